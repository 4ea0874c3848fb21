//! Twitch user networks of the MUSAE paper, from benedekrozemberczki/MUSAE
//! (`input/edges/<L>_edges.csv`, `input/features/<L>.json`, `input/target/<L>_target.csv`
//! for the six languages L of [`TWITCH_LANGUAGES`]; see `datasets/SOURCES.md`, section 4).
//!
//! * `<L>_edges.csv`: header `from,to`, then one undirected edge `u,v` per line (each edge
//!   once, in either orientation).
//! * `<L>.json`: one JSON object mapping every node id 0…N−1 (decimal string keys, any
//!   order) to an array of integer feature ids (0…3169); arrays may repeat an id, so
//!   they are read as sets (deduplicated and sorted).
//! * `<L>_target.csv`: header `id,days,mature,views,partner,new_id`, booleans written
//!   `True`/`False`; `new_id` is the node id. Rows are unsorted and the FR file repeats two
//!   nodes, which [`dedup_targets_by_new_id`] removes.
//!
//! Errors name the file, and the line for the CSV files (JSON errors give serde_json's
//! line and column).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::data::DataRoots;
use crate::error::DataError;

/// The six Twitch languages of the upstream data (its ZHTW graph is not registered).
pub const TWITCH_LANGUAGES: [&str; 6] = ["DE", "ENGB", "ES", "FR", "PTBR", "RU"];

/// Lines without their final newline, with 1-based numbers; a trailing `\r` is dropped.
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

/// Checks the header line and returns the data lines.
fn data_lines(
    bytes: &[u8],
    origin: &Path,
    header: &str,
) -> Result<Vec<(usize, String)>, DataError> {
    let mut lines = lines(bytes, origin)?;
    match lines.first() {
        None => Err(DataError::parse(
            origin,
            format!("empty file: expected the header `{header}`"),
        )),
        Some((_, h)) if h != header => Err(DataError::parse_at(
            origin,
            1,
            format!("expected the header `{header}`, found {h:?}"),
        )),
        Some(_) => {
            lines.remove(0);
            Ok(lines)
        }
    }
}

fn parse_edges_checked(
    bytes: &[u8],
    origin: &Path,
    n_nodes: Option<usize>,
) -> Result<Vec<(u32, u32)>, DataError> {
    data_lines(bytes, origin, "from,to")?
        .into_iter()
        .map(|(line, text)| {
            let err = |msg: String| DataError::parse_at(origin, line, msg);
            let fields: Vec<&str> = text.split(',').collect();
            let &[a, b] = fields.as_slice() else {
                return Err(err(format!("expected 2 fields, found {}", fields.len())));
            };
            let id = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| err(format!("node id `{s}` is not a non-negative integer")))
            };
            let (u, v) = (id(a)?, id(b)?);
            if let Some(n) = n_nodes {
                for x in [u, v] {
                    if x as usize >= n {
                        return Err(err(format!(
                            "node id {x} is out of range 0..{n} (number of nodes in the features file)"
                        )));
                    }
                }
            }
            Ok((u, v))
        })
        .collect()
}

/// Parses `<L>_edges.csv` into edges `(from, to)` in file order.
pub fn parse_edges_csv(bytes: &[u8], origin: &Path) -> Result<Vec<(u32, u32)>, DataError> {
    parse_edges_checked(bytes, origin, None)
}

/// The JSON object as a list of entries, so that repeated keys are seen.
struct FeatureEntries(Vec<(String, Vec<u32>)>);

impl<'de> Deserialize<'de> for FeatureEntries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FeatureEntries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object mapping node ids to arrays of feature ids")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, Vec<u32>>()? {
                    out.push(entry);
                }
                Ok(FeatureEntries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses `<L>.json` into the feature-id set of each node, indexed by node id: every id
/// 0…N−1 must appear exactly once (N = number of keys); each list is sorted and
/// deduplicated.
pub fn parse_features_json(bytes: &[u8], origin: &Path) -> Result<Vec<Vec<u32>>, DataError> {
    let FeatureEntries(entries) = serde_json::from_slice(bytes).map_err(|e| {
        DataError::parse_at(origin, e.line(), format!("invalid features JSON: {e}"))
    })?;
    let n = entries.len();
    let mut out: Vec<Option<Vec<u32>>> = vec![None; n];
    for (key, mut feats) in entries {
        let id = key
            .parse::<usize>()
            .ok()
            .filter(|_| key.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                DataError::parse(origin, format!("key {key:?} is not a decimal node id"))
            })?;
        let slot = out.get_mut(id).ok_or_else(|| {
            DataError::parse(
                origin,
                format!("node id {id} is out of range 0..{n} (number of keys)"),
            )
        })?;
        if slot.is_some() {
            return Err(DataError::parse(
                origin,
                format!("node id {id} appears twice"),
            ));
        }
        feats.sort_unstable();
        feats.dedup();
        *slot = Some(feats);
    }
    // n distinct ids below n: every slot is filled.
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// One row of `<L>_target.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwitchTarget {
    /// Original Twitch user id.
    pub id: u64,
    /// Account age in days.
    pub days: u32,
    /// Whether the streamer uses explicit content (the usual classification label).
    pub mature: bool,
    /// View count.
    pub views: u64,
    /// Whether the streamer is a Twitch partner.
    pub partner: bool,
    /// Node id in the edge and feature files.
    pub new_id: u32,
}

/// Parses `<L>_target.csv` into its rows, in file order (duplicates kept).
pub fn parse_target_csv(bytes: &[u8], origin: &Path) -> Result<Vec<TwitchTarget>, DataError> {
    data_lines(bytes, origin, "id,days,mature,views,partner,new_id")?
        .into_iter()
        .map(|(line, text)| {
            let err = |msg: String| DataError::parse_at(origin, line, msg);
            let fields: Vec<&str> = text.split(',').collect();
            let &[id, days, mature, views, partner, new_id] = fields.as_slice() else {
                return Err(err(format!("expected 6 fields, found {}", fields.len())));
            };
            fn int<T: std::str::FromStr>(s: &str, col: &str) -> Result<T, String> {
                s.parse()
                    .map_err(|_| format!("column `{col}`: `{s}` is not a non-negative integer"))
            }
            fn boolean(s: &str, col: &str) -> Result<bool, String> {
                match s {
                    "True" => Ok(true),
                    "False" => Ok(false),
                    _ => Err(format!("column `{col}`: `{s}` is neither True nor False")),
                }
            }
            Ok(TwitchTarget {
                id: int(id, "id").map_err(err)?,
                days: int(days, "days").map_err(err)?,
                mature: boolean(mature, "mature").map_err(err)?,
                views: int(views, "views").map_err(err)?,
                partner: boolean(partner, "partner").map_err(err)?,
                new_id: int(new_id, "new_id").map_err(err)?,
            })
        })
        .collect()
}

/// Removes rows that repeat a `new_id`, keeping the first; the result is sorted by
/// `new_id`. Copies that disagree on `mature` are an error naming `origin`.
pub fn dedup_targets_by_new_id(
    targets: Vec<TwitchTarget>,
    origin: &Path,
) -> Result<Vec<TwitchTarget>, DataError> {
    let mut by_id: BTreeMap<u32, TwitchTarget> = BTreeMap::new();
    for t in targets {
        match by_id.get(&t.new_id) {
            None => {
                by_id.insert(t.new_id, t);
            }
            Some(first) if first.mature != t.mature => {
                return Err(DataError::parse(
                    origin,
                    format!(
                        "node {} has rows that disagree on `mature` ({} and {})",
                        t.new_id, first.mature, t.mature
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(by_id.into_values().collect())
}

/// One language's graph: edges and node features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwitchGraph {
    /// Language code, one of [`TWITCH_LANGUAGES`].
    pub language: String,
    /// Undirected edges as in the file (each once, either orientation).
    pub edges: Vec<(u32, u32)>,
    /// Sorted, deduplicated feature ids of each node, indexed by node id.
    pub features: Vec<Vec<u32>>,
}

impl TwitchGraph {
    /// Number of nodes (the number of feature lists).
    pub fn num_nodes(&self) -> usize {
        self.features.len()
    }

    /// One past the largest feature id of any node (0 with no features).
    pub fn feature_dim(&self) -> usize {
        self.features
            .iter()
            .filter_map(|f| f.last())
            .max()
            .map_or(0, |&m| m as usize + 1)
    }
}

fn check_language(lang: &str) -> Result<(), DataError> {
    if TWITCH_LANGUAGES.contains(&lang) {
        Ok(())
    } else {
        Err(DataError::UnknownFile {
            dataset: "twitch".to_owned(),
            file: format!("language `{lang}` (known: {})", TWITCH_LANGUAGES.join(", ")),
        })
    }
}

/// Loads the edges and features of language `lang` (dataset `twitch`, files
/// `twitch/edges/<lang>_edges.csv` and `twitch/features/<lang>.json`); every edge
/// endpoint must be a node of the features file.
pub fn load_twitch(roots: &DataRoots, lang: &str) -> Result<TwitchGraph, DataError> {
    check_language(lang)?;
    let (bytes, path) = roots.read_with_path("twitch", &format!("twitch/features/{lang}.json"))?;
    let features = parse_features_json(&bytes, &path)?;
    let (bytes, path) =
        roots.read_with_path("twitch", &format!("twitch/edges/{lang}_edges.csv"))?;
    let edges = parse_edges_checked(&bytes, &path, Some(features.len()))?;
    Ok(TwitchGraph {
        language: lang.to_owned(),
        edges,
        features,
    })
}

/// Loads the targets of language `lang` (file `twitch/target/<lang>_target.csv`),
/// deduplicated by `new_id` and sorted, so that element i describes node i: the `new_id`s
/// must be exactly 0…N−1.
pub fn load_twitch_targets(roots: &DataRoots, lang: &str) -> Result<Vec<TwitchTarget>, DataError> {
    check_language(lang)?;
    let (bytes, path) =
        roots.read_with_path("twitch", &format!("twitch/target/{lang}_target.csv"))?;
    check_contiguous(
        dedup_targets_by_new_id(parse_target_csv(&bytes, &path)?, &path)?,
        &path,
    )
}

/// Checks that sorted, deduplicated targets have `new_id` 0…N−1.
fn check_contiguous(
    targets: Vec<TwitchTarget>,
    path: &Path,
) -> Result<Vec<TwitchTarget>, DataError> {
    if let Some((i, t)) = targets
        .iter()
        .enumerate()
        .find(|&(i, t)| t.new_id as usize != i)
    {
        return Err(DataError::parse(
            path,
            format!(
                "new_id values are not 0..{}: node {i} is missing (next new_id is {})",
                targets.len(),
                t.new_id
            ),
        ));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_graphs() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        // (language, nodes, edges, shortest and longest feature set after dedup)
        let expected = [
            ("DE", 9498, 153_138, 8, 140),
            ("ENGB", 7126, 35_324, 8, 155),
            ("ES", 4648, 59_382, 9, 77),
            ("FR", 6549, 112_666, 7, 161),
            ("PTBR", 1912, 31_299, 9, 288),
            ("RU", 4385, 37_304, 9, 94),
        ];
        let mut all_ids = std::collections::BTreeSet::new();
        for (lang, nodes, edges, lo, hi) in expected {
            let g = load_twitch(&roots, lang).unwrap();
            assert_eq!(g.language, lang);
            assert_eq!(g.num_nodes(), nodes, "{lang}");
            assert_eq!(g.edges.len(), edges, "{lang}");
            assert!(g.edges.iter().all(|(u, v)| u != v), "{lang}: no self-loops");
            let mut und: Vec<_> = g.edges.iter().map(|&(u, v)| (u.min(v), u.max(v))).collect();
            und.sort_unstable();
            und.dedup();
            assert_eq!(und.len(), edges, "{lang}: each edge once");
            let mut deg = vec![0usize; nodes];
            for &(u, v) in &g.edges {
                deg[u as usize] += 1;
                deg[v as usize] += 1;
            }
            assert!(deg.iter().all(|&d| d > 0), "{lang}: every node has an edge");
            let lens: Vec<usize> = g.features.iter().map(Vec::len).collect();
            assert_eq!(lens.iter().min(), Some(&lo), "{lang}");
            assert_eq!(lens.iter().max(), Some(&hi), "{lang}");
            assert!(g.feature_dim() <= 3170);
            all_ids.extend(g.features.iter().flatten().copied());
        }
        assert_eq!(all_ids.len(), 3163);
        assert_eq!(all_ids.last(), Some(&3169));
    }

    #[test]
    fn real_targets_when_present() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        // (language, rows, mature true/false by row, partners by row, nodes)
        let expected = [
            ("DE", 9498, 5742, 3756, 597, 9498),
            ("ENGB", 7126, 3888, 3238, 384, 7126),
            ("ES", 4648, 1360, 3288, 395, 4648),
            ("FR", 6551, 2416, 4135, 410, 6549),
            ("PTBR", 1912, 661, 1251, 279, 1912),
            ("RU", 4385, 1075, 3310, 474, 4385),
        ];
        for (lang, rows, yes, no, partners, nodes) in expected {
            let file = format!("twitch/target/{lang}_target.csv");
            let (bytes, path) = match roots.read_with_path("twitch", &file) {
                Ok(x) => x,
                Err(DataError::Missing { .. }) => {
                    eprintln!("skipped: {file} is not in the mirror");
                    continue;
                }
                Err(e) => panic!("{e}"),
            };
            let t = parse_target_csv(&bytes, &path).unwrap();
            assert_eq!(t.len(), rows, "{lang}");
            assert_eq!(t.iter().filter(|t| t.mature).count(), yes, "{lang}");
            assert_eq!(t.iter().filter(|t| !t.mature).count(), no, "{lang}");
            assert_eq!(t.iter().filter(|t| t.partner).count(), partners, "{lang}");
            let d = load_twitch_targets(&roots, lang).unwrap();
            assert_eq!(d.len(), nodes, "{lang}");
            if lang == "FR" {
                assert_eq!(d.iter().filter(|t| t.mature).count(), 2414);
                assert_eq!(d.iter().filter(|t| t.partner).count(), 408);
                assert_eq!(d[3754].id, 89_203_888);
                assert_eq!(d[1018].id, 100_567_611);
            }
        }
    }

    #[test]
    fn fixture_edges_and_features() {
        let p = Path::new("E.csv");
        assert_eq!(
            parse_edges_csv(b"from,to\n0,2\n2,1\n", p).unwrap(),
            [(0, 2), (2, 1)]
        );
        assert!(parse_edges_csv(b"from,to\n", p).unwrap().is_empty());
        let f = parse_features_json(br#"{"1": [5, 3, 5], "0": [7], "2": [0, 1]}"#, p).unwrap();
        assert_eq!(f, vec![vec![7], vec![3, 5], vec![0, 1]]);
        assert!(parse_features_json(b"{}", p).unwrap().is_empty());
    }

    #[test]
    fn malformed_edges_and_features() {
        let p = Path::new("E.csv");
        let err = |b: &[u8]| parse_edges_csv(b, p).unwrap_err().to_string();
        assert!(err(b"").contains("header"));
        let e = err(b"to,from\n0,1\n");
        assert!(e.contains("E.csv, line 1") && e.contains("header"), "{e}");
        let e = err(b"from,to\n0,1\n0,1,2\n");
        assert!(
            e.contains("E.csv, line 3") && e.contains("expected 2 fields, found 3"),
            "{e}"
        );
        let e = err(b"from,to\n0,-1\n");
        assert!(e.contains("line 2") && e.contains("`-1`"), "{e}");
        let e = err(b"from,to\n0,\xff\n");
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
        let e = parse_edges_checked(b"from,to\n0,1\n1,3\n", p, Some(3))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("node id 3 is out of range"),
            "{e}"
        );

        let p = Path::new("F.json");
        let err = |b: &[u8]| parse_features_json(b, p).unwrap_err().to_string();
        let e = err(br#"{"0": [1], "2": [1]}"#);
        assert!(
            e.contains("F.json") && e.contains("node id 2 is out of range"),
            "{e}"
        );
        let e = err(br#"{"0": [1], "0": [2]}"#);
        assert!(e.contains("appears twice"), "{e}");
        let e = err(br#"{"x": [1]}"#);
        assert!(e.contains("\"x\" is not a decimal node id"), "{e}");
        let e = err(br#"{"+0": [1]}"#);
        assert!(e.contains("not a decimal node id"), "{e}");
        let e = err(br#"{"0": [-1]}"#);
        assert!(
            e.contains("F.json, line 1") && e.contains("invalid features JSON"),
            "{e}"
        );
        let e = err(br#"{"0": [1], "1": [2"#);
        assert!(e.contains("invalid features JSON"), "{e}");
        let e = err(b"[1, 2]");
        assert!(e.contains("an object mapping node ids"), "{e}");
        let e = err(b"{\"0\": [1]}\n\xff");
        assert!(e.contains("line 2"), "{e}");
    }

    const TARGETS: &[u8] = b"id,days,mature,views,partner,new_id
73045350,1459,False,9528,False,2
89203888,3019,True,362432,True,1
89203888,3019,True,362431,True,1
61573865,1459,False,4491,False,0
";

    #[test]
    fn fixture_targets() {
        let p = Path::new("T.csv");
        let t = parse_target_csv(TARGETS, p).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            t[1],
            TwitchTarget {
                id: 89_203_888,
                days: 3019,
                mature: true,
                views: 362_432,
                partner: true,
                new_id: 1
            }
        );
        let d = dedup_targets_by_new_id(t.clone(), p).unwrap();
        assert_eq!(d.iter().map(|t| t.new_id).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(d[1].views, 362_432, "the first copy is kept");
        let mut bad = t;
        bad[2].mature = false;
        let e = dedup_targets_by_new_id(bad, p).unwrap_err().to_string();
        assert!(
            e.contains("T.csv") && e.contains("node 1") && e.contains("mature"),
            "{e}"
        );
        assert_eq!(check_contiguous(d.clone(), p).unwrap(), d);
        let e = check_contiguous(d[1..].to_vec(), p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("T.csv") && e.contains("node 0 is missing"),
            "{e}"
        );
    }

    #[test]
    fn malformed_targets() {
        let p = Path::new("T.csv");
        let err = |b: &[u8]| parse_target_csv(b, p).unwrap_err().to_string();
        let e = err(b"id,days,mature,views,partner\n1,2,True,3,False\n");
        assert!(e.contains("line 1") && e.contains("header"), "{e}");
        let e = err(b"id,days,mature,views,partner,new_id\n1,2,True,3,False\n");
        assert!(
            e.contains("T.csv, line 2") && e.contains("expected 6 fields, found 5"),
            "{e}"
        );
        let e = err(b"id,days,mature,views,partner,new_id\n1,2,true,3,False,0\n");
        assert!(
            e.contains("line 2") && e.contains("`mature`") && e.contains("`true`"),
            "{e}"
        );
        let e =
            err(b"id,days,mature,views,partner,new_id\n1,2,True,3,False,0\n1,x,True,3,False,1\n");
        assert!(e.contains("line 3") && e.contains("`days`"), "{e}");
        let e = err(b"id,days,mature,views,partner,new_id\n1,2,True,3,False,-4\n");
        assert!(e.contains("`new_id`"), "{e}");
    }

    #[test]
    fn loaders_check_names_and_contiguity() {
        let tmp = crate::testing::TempDir::new("twitch");
        let roots = DataRoots::new(tmp.path().join("cache"), None);
        let e = load_twitch(&roots, "ZHTW").unwrap_err().to_string();
        assert!(e.contains("ZHTW") && e.contains("PTBR"), "{e}");
        let e = load_twitch_targets(&roots, "xx").unwrap_err().to_string();
        assert!(e.contains("xx"), "{e}");
        let e = load_twitch(&roots, "DE").unwrap_err();
        assert!(matches!(e, DataError::Missing { .. }), "{e}");
    }
}
