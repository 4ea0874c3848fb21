//! WebKB (Cornell, Texas, Wisconsin) as prepared for Geom-GCN, from
//! graphdml-uiuc-jlu/geom-gcn (`new_data/<name>/out1_node_feature_label.txt`,
//! `new_data/<name>/out1_graph_edges.txt`, `splits/<name>_split_0.6_0.2_<k>.npz`; see
//! `datasets/SOURCES.md`, section 3).
//!
//! * `out1_node_feature_label.txt`: header `node_id<TAB>feature<TAB>label`, then one line
//!   per node `<id><TAB><f0>,<f1>,…<TAB><label>` with binary features (`0`/`1`, the same
//!   count on every line, 1,703 upstream) and an integer label (0…4 upstream).
//! * `out1_graph_edges.txt`: header `node_id<TAB>node_id`, then one directed edge
//!   `<source><TAB><target>` per line; self-loops occur.
//! * `<name>_split_0.6_0.2_<k>.npz`: arrays `train_mask`, `val_mask`, `test_mask`, each of
//!   shape (N,) with values 0/1: `|u1` in 20 of the 30 upstream archives, `|b1` (bool) in
//!   the other 10 (cornell 4–6, texas 2, 3, 6, 8, wisconsin 0, 3, 4); both are accepted.
//!
//! Features are kept sparse: for each node, the sorted indices of its `1` features. Upstream
//! Cornell and Texas share byte-identical feature files. Errors name the file and line.

use std::path::Path;

use crate::data::DataRoots;
use crate::data::npy::{member_path, npz_member, parse_npz};
use crate::error::DataError;

/// One of the three WebKB graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebKbName {
    /// Cornell University (183 nodes).
    Cornell,
    /// University of Texas (183 nodes).
    Texas,
    /// University of Wisconsin (251 nodes).
    Wisconsin,
}

impl WebKbName {
    /// All three graphs.
    pub const ALL: [WebKbName; 3] = [WebKbName::Cornell, WebKbName::Texas, WebKbName::Wisconsin];

    /// Lower-case name as in the file paths: `cornell`, `texas`, `wisconsin`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebKbName::Cornell => "cornell",
            WebKbName::Texas => "texas",
            WebKbName::Wisconsin => "wisconsin",
        }
    }
}

impl std::fmt::Display for WebKbName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One train/validation/test split: a boolean mask per node for each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebKbSplit {
    /// Training nodes.
    pub train: Vec<bool>,
    /// Validation nodes.
    pub val: Vec<bool>,
    /// Test nodes.
    pub test: Vec<bool>,
}

impl WebKbSplit {
    /// Number of nodes in (train, val, test).
    pub fn sizes(&self) -> (usize, usize, usize) {
        let count = |m: &[bool]| m.iter().filter(|&&b| b).count();
        (count(&self.train), count(&self.val), count(&self.test))
    }

    /// Indices of the nodes set in `mask`.
    pub fn indices(mask: &[bool]) -> Vec<usize> {
        mask.iter()
            .enumerate()
            .filter_map(|(i, &b)| b.then_some(i))
            .collect()
    }

    /// Whether every node is in exactly one of the three parts.
    pub fn is_partition(&self) -> bool {
        self.train.len() == self.val.len()
            && self.val.len() == self.test.len()
            && (0..self.train.len()).all(|i| {
                usize::from(self.train[i]) + usize::from(self.val[i]) + usize::from(self.test[i])
                    == 1
            })
    }
}

/// Node features and labels of one `out1_node_feature_label.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebKbNodes {
    /// For each node (by id), the sorted indices of its active (`1`) features.
    pub features: Vec<Vec<u32>>,
    /// Number of feature columns on every line.
    pub n_features: usize,
    /// Label of each node (by id).
    pub labels: Vec<u8>,
}

/// One WebKB graph with its ten splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebKb {
    /// Which graph.
    pub name: WebKbName,
    /// For each node, the sorted indices of its active (`1`) features (sparse binary
    /// bag-of-words; use [`WebKb::dense_features`] for a dense matrix).
    pub features: Vec<Vec<u32>>,
    /// Number of feature dimensions (1,703).
    pub n_features: usize,
    /// Label of each node, 0…4.
    pub labels: Vec<u8>,
    /// Directed edges `(source, target)` in file order, self-loops included.
    pub edges: Vec<(u32, u32)>,
    /// The ten upstream splits, k = 0…9.
    pub splits: Vec<WebKbSplit>,
}

impl WebKb {
    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.labels.len()
    }

    /// Number of classes: the largest label plus one.
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// Row-major `num_nodes × n_features` 0/1 matrix.
    pub fn dense_features(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.num_nodes() * self.n_features];
        for (i, row) in self.features.iter().enumerate() {
            for &j in row {
                if let Some(x) = out.get_mut(i * self.n_features + j as usize) {
                    *x = 1.0;
                }
            }
        }
        out
    }
}

/// Lines of a text file with their 1-based numbers; a final newline ends the last line
/// (it does not start an empty one); a trailing `\r` is dropped.
fn lines(bytes: &[u8], origin: &Path) -> Result<Vec<(usize, String)>, DataError> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            String::from_utf8(l.to_vec())
                .map(|s| (i + 1, s))
                .map_err(|_| DataError::parse_at(origin, i + 1, "invalid UTF-8"))
        })
        .collect()
}

fn parse_id(s: &str, what: &str, origin: &Path, line: usize) -> Result<u32, DataError> {
    s.parse::<u32>().map_err(|_| {
        DataError::parse_at(
            origin,
            line,
            format!("{what} `{s}` is not a non-negative integer"),
        )
    })
}

/// Parses `out1_node_feature_label.txt`. Node ids may come in any order but each id of
/// 0…N−1 must appear exactly once (N = number of lines after the header).
pub fn parse_node_features(bytes: &[u8], origin: &Path) -> Result<WebKbNodes, DataError> {
    let lines = lines(bytes, origin)?;
    let Some(((_, header), rows)) = lines.split_first() else {
        return Err(DataError::parse(
            origin,
            "empty file: expected a header line",
        ));
    };
    if header != "node_id\tfeature\tlabel" {
        return Err(DataError::parse_at(
            origin,
            1,
            format!("expected the header `node_id<TAB>feature<TAB>label`, found {header:?}"),
        ));
    }
    let n = rows.len();
    let mut slots: Vec<Option<(Vec<u32>, u8)>> = vec![None; n];
    let mut n_features = None;
    for (line, text) in rows {
        let line = *line;
        let err = |msg: String| DataError::parse_at(origin, line, msg);
        let fields: Vec<&str> = text.split('\t').collect();
        let &[id, feats, label] = fields.as_slice() else {
            return Err(err(format!(
                "expected 3 tab-separated fields, found {}",
                fields.len()
            )));
        };
        let id = parse_id(id, "node id", origin, line)?;
        let slot = slots.get_mut(id as usize).ok_or_else(|| {
            err(format!(
                "node id {id} is out of range 0..{n} (number of nodes)"
            ))
        })?;
        if slot.is_some() {
            return Err(err(format!("node id {id} appears twice")));
        }
        let mut active = Vec::new();
        let mut count = 0usize;
        for (j, f) in feats.split(',').enumerate() {
            match f {
                "1" => active.push(u32::try_from(j).map_err(|_| err("too many features".into()))?),
                "0" => {}
                _ => {
                    return Err(err(format!("feature {j} is `{f}`, expected 0 or 1")));
                }
            }
            count += 1;
        }
        match n_features {
            None => n_features = Some(count),
            Some(m) if m != count => {
                return Err(err(format!(
                    "{count} features, the first node line has {m}"
                )));
            }
            Some(_) => {}
        }
        let label = label
            .parse::<u8>()
            .map_err(|_| err(format!("label `{label}` is not an integer 0…255")))?;
        *slot = Some((active, label));
    }
    // Every slot is filled: n distinct ids below n.
    let (features, labels) = slots.into_iter().map(Option::unwrap_or_default).unzip();
    Ok(WebKbNodes {
        features,
        n_features: n_features.unwrap_or(0),
        labels,
    })
}

/// Parses `out1_graph_edges.txt` into directed edges in file order; node ids must be
/// below `n_nodes`.
pub fn parse_edges(
    bytes: &[u8],
    origin: &Path,
    n_nodes: usize,
) -> Result<Vec<(u32, u32)>, DataError> {
    let lines = lines(bytes, origin)?;
    let Some(((_, header), rows)) = lines.split_first() else {
        return Err(DataError::parse(
            origin,
            "empty file: expected a header line",
        ));
    };
    if header != "node_id\tnode_id" {
        return Err(DataError::parse_at(
            origin,
            1,
            format!("expected the header `node_id<TAB>node_id`, found {header:?}"),
        ));
    }
    rows.iter()
        .map(|(line, text)| {
            let line = *line;
            let Some((a, b)) = text.split_once('\t') else {
                return Err(DataError::parse_at(
                    origin,
                    line,
                    format!("expected `<source><TAB><target>`, found {text:?}"),
                ));
            };
            let (u, v) = (
                parse_id(a, "node id", origin, line)?,
                parse_id(b, "node id", origin, line)?,
            );
            for id in [u, v] {
                if id as usize >= n_nodes {
                    return Err(DataError::parse_at(
                        origin,
                        line,
                        format!("node id {id} is out of range 0..{n_nodes} (number of nodes)"),
                    ));
                }
            }
            Ok((u, v))
        })
        .collect()
}

/// Parses one split archive (`train_mask`, `val_mask`, `test_mask`, each a boolean or
/// integer array of shape `(n_nodes,)` with values 0/1).
pub fn parse_split(bytes: &[u8], origin: &Path, n_nodes: usize) -> Result<WebKbSplit, DataError> {
    let npz = parse_npz(bytes, origin)?;
    let mask = |name: &str| -> Result<Vec<bool>, DataError> {
        let mp = member_path(origin, name);
        let arr = npz_member(&npz, name, origin)?;
        let len = arr.vector_len(&mp)?;
        if len != n_nodes {
            return Err(DataError::parse(
                &mp,
                format!("mask has {len} entries, the graph has {n_nodes} nodes"),
            ));
        }
        if let Ok(b) = arr.as_bool(&mp) {
            return Ok(b.to_vec());
        }
        arr.to_i64_vec(&mp)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(DataError::parse(
                    &mp,
                    format!("mask value {v} at node {i}, expected 0 or 1"),
                )),
            })
            .collect()
    };
    Ok(WebKbSplit {
        train: mask("train_mask")?,
        val: mask("val_mask")?,
        test: mask("test_mask")?,
    })
}

/// Loads one WebKB graph (dataset `webkb`): features, labels, edges and the ten splits.
pub fn load_webkb(roots: &DataRoots, name: WebKbName) -> Result<WebKb, DataError> {
    let n = name.as_str();
    let (bytes, path) =
        roots.read_with_path("webkb", &format!("webkb/{n}/out1_node_feature_label.txt"))?;
    let nodes = parse_node_features(&bytes, &path)?;
    let n_nodes = nodes.labels.len();
    let (bytes, path) =
        roots.read_with_path("webkb", &format!("webkb/{n}/out1_graph_edges.txt"))?;
    let edges = parse_edges(&bytes, &path, n_nodes)?;
    let splits = (0..10)
        .map(|k| {
            let (bytes, path) =
                roots.read_with_path("webkb", &format!("webkb/{n}/{n}_split_0.6_0.2_{k}.npz"))?;
            parse_split(&bytes, &path, n_nodes)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WebKb {
        name,
        features: nodes.features,
        n_features: nodes.n_features,
        labels: nodes.labels,
        edges,
        splits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npy::tests::{npy_bytes, npy_f32, npy_u8, zip_bytes};

    #[test]
    fn real_webkb() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        // (name, nodes, edge lines, self-loops, undirected pairs, class sizes, active
        // features, split sizes)
        let expected = [
            (
                WebKbName::Cornell,
                183,
                298,
                3,
                277,
                [33, 1, 18, 101, 30],
                15_266,
                (87, 59, 37),
            ),
            (
                WebKbName::Texas,
                183,
                325,
                16,
                279,
                [33, 1, 18, 101, 30],
                15_266,
                (87, 59, 37),
            ),
            (
                WebKbName::Wisconsin,
                251,
                515,
                16,
                450,
                [10, 70, 118, 32, 21],
                24_057,
                (120, 80, 51),
            ),
        ];
        let mut loaded = Vec::new();
        for (name, nodes, edges, loops, pairs, classes, active, sizes) in expected {
            let g = load_webkb(&roots, name).unwrap();
            assert_eq!(g.name, name);
            assert_eq!(g.num_nodes(), nodes, "{name}");
            assert_eq!(g.features.len(), nodes);
            assert_eq!(g.n_features, 1703, "{name}");
            assert_eq!(g.num_classes(), 5, "{name}");
            assert_eq!(g.edges.len(), edges, "{name}");
            assert_eq!(
                g.edges.iter().filter(|(u, v)| u == v).count(),
                loops,
                "{name}"
            );
            let mut und: Vec<_> = g
                .edges
                .iter()
                .filter(|(u, v)| u != v)
                .map(|&(u, v)| (u.min(v), u.max(v)))
                .collect();
            und.sort_unstable();
            und.dedup();
            assert_eq!(und.len(), pairs, "{name}");
            let mut dir = g.edges.clone();
            dir.sort_unstable();
            dir.dedup();
            assert_eq!(dir.len(), edges, "{name}: no duplicate lines");
            let mut cs = [0usize; 5];
            for &l in &g.labels {
                cs[usize::from(l)] += 1;
            }
            assert_eq!(cs, classes, "{name}");
            assert_eq!(
                g.features.iter().map(Vec::len).sum::<usize>(),
                active,
                "{name}"
            );
            assert_eq!(g.dense_features().iter().sum::<f32>(), active as f32);
            assert_eq!(g.splits.len(), 10);
            for s in &g.splits {
                assert_eq!(s.sizes(), sizes, "{name}");
                assert!(s.is_partition(), "{name}");
            }
            loaded.push(g);
        }
        // Cornell and Texas share features and labels upstream.
        assert_eq!(loaded[0].features, loaded[1].features);
        assert_eq!(loaded[0].labels, loaded[1].labels);
        assert_ne!(loaded[0].edges, loaded[1].edges);
    }

    const FEATS: &[u8] = b"node_id\tfeature\tlabel\n1\t0,1,1\t2\n0\t1,0,0\t0\n2\t0,0,0\t4\n";

    #[test]
    fn fixture_features_and_edges() {
        let p = Path::new("f.txt");
        let nodes = parse_node_features(FEATS, p).unwrap();
        assert_eq!(nodes.features, vec![vec![0], vec![1, 2], vec![]]);
        assert_eq!(nodes.n_features, 3);
        assert_eq!(nodes.labels, [0, 2, 4]);
        let e = parse_edges(b"node_id\tnode_id\n0\t1\n2\t2\n1\t0", p, 3).unwrap();
        assert_eq!(e, [(0, 1), (2, 2), (1, 0)]);
        assert!(parse_edges(b"node_id\tnode_id\n", p, 3).unwrap().is_empty());
    }

    fn ferr(bytes: &[u8]) -> String {
        parse_node_features(bytes, Path::new("f.txt"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_features() {
        assert!(ferr(b"").contains("header"));
        let e = ferr(b"id\tfeature\tlabel\n0\t1\t0\n");
        assert!(e.contains("f.txt, line 1") && e.contains("header"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1,0\t0\n1\t1,0,1\t0\n");
        assert!(e.contains("line 3") && e.contains("3 features"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1,2\t0\n");
        assert!(e.contains("line 2") && e.contains("expected 0 or 1"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1,0\n");
        assert!(e.contains("line 2") && e.contains("3 tab-separated"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1\t0\n5\t1\t0\n");
        assert!(e.contains("line 3") && e.contains("out of range"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1\t0\n0\t1\t0\n");
        assert!(e.contains("line 3") && e.contains("twice"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1\tx\n");
        assert!(e.contains("label `x`"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n-1\t1\t0\n");
        assert!(e.contains("node id `-1`"), "{e}");
        let e = ferr(b"node_id\tfeature\tlabel\n0\t1\t\xff\n");
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn malformed_edges() {
        let p = Path::new("e.txt");
        let err = |b: &[u8]| parse_edges(b, p, 3).unwrap_err().to_string();
        let e = err(b"0\t1\n");
        assert!(e.contains("e.txt, line 1") && e.contains("header"), "{e}");
        let e = err(b"node_id\tnode_id\n0\t1\n1\t3\n");
        assert!(
            e.contains("e.txt, line 3") && e.contains("node id 3 is out of range"),
            "{e}"
        );
        let e = err(b"node_id\tnode_id\n0 1\n");
        assert!(e.contains("line 2"), "{e}");
        let e = err(b"node_id\tnode_id\n0\tx\n");
        assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
        assert!(err(b"").contains("header"));
    }

    fn split_npz(train: &[u8], val: &[u8], test: &[u8]) -> Vec<u8> {
        zip_bytes(
            &[
                ("train_mask.npy", npy_u8(train)),
                ("val_mask.npy", npy_u8(val)),
                ("test_mask.npy", npy_u8(test)),
            ],
            true,
        )
    }

    #[test]
    fn fixture_splits() {
        let p = Path::new("s.npz");
        let s = parse_split(&split_npz(&[1, 0, 0], &[0, 1, 0], &[0, 0, 1]), p, 3).unwrap();
        assert_eq!(s.sizes(), (1, 1, 1));
        assert!(s.is_partition());
        assert_eq!(WebKbSplit::indices(&s.test), [2]);
        let e = parse_split(&split_npz(&[1, 0, 0], &[0, 1, 0], &[0, 0, 2]), p, 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.npz:test_mask.npy") && e.contains("mask value 2"),
            "{e}"
        );
        let e = parse_split(&split_npz(&[1, 0], &[0, 1], &[0, 0]), p, 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.npz:train_mask.npy") && e.contains("2 entries"),
            "{e}"
        );
        // Boolean masks (`|b1`), as in 10 of the upstream archives.
        let z = zip_bytes(
            &[
                ("train_mask.npy", npy_bytes("|b1", "(2,)", &[1, 0])),
                ("val_mask.npy", npy_bytes("|b1", "(2,)", &[0, 1])),
                ("test_mask.npy", npy_bytes("|b1", "(2,)", &[0, 0])),
            ],
            true,
        );
        let s = parse_split(&z, p, 2).unwrap();
        assert_eq!(
            (s.train, s.val, s.test),
            (vec![true, false], vec![false, true], vec![false; 2])
        );
        let z = zip_bytes(&[("train_mask.npy", npy_u8(&[1]))], false);
        let e = parse_split(&z, p, 1).unwrap_err().to_string();
        assert!(e.contains("no member `val_mask.npy`"), "{e}");
        let z = zip_bytes(
            &[
                ("train_mask.npy", npy_f32(&[1.0])),
                ("val_mask.npy", npy_u8(&[0])),
                ("test_mask.npy", npy_u8(&[0])),
            ],
            false,
        );
        let e = parse_split(&z, p, 1).unwrap_err().to_string();
        assert!(e.contains("integer"), "{e}");
        let full = split_npz(&[1], &[0], &[0]);
        let e = parse_split(&full[..full.len() - 10], p, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.npz"), "{e}");
    }

    #[test]
    fn names() {
        assert_eq!(
            WebKbName::ALL.map(WebKbName::as_str),
            ["cornell", "texas", "wisconsin"]
        );
        assert_eq!(WebKbName::Texas.to_string(), "texas");
    }
}
