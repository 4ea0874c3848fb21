//! Cora and CiteSeer citation graphs in the SparseGraph `.npz` format of
//! shchur/gnn-benchmark (`data/npz/cora.npz`, `data/npz/citeseer.npz`; see
//! `datasets/SOURCES.md`, sections 1 and 2).
//!
//! The archive holds two CSR matrices, each as four arrays `<p>_data` (`<f4`),
//! `<p>_indices` and `<p>_indptr` (integers) and `<p>_shape` (`<i8`, two values): the
//! adjacency matrix (`p = adj`, N×N) and the bag-of-words node features (`p = attr`,
//! N×F); plus `labels` (integers, N), `node_names` (`<Un`, N) and `class_names` (`<Un`).
//! An adjacency entry (i, j) is a line "i j" of LINQS `cora.cites`: paper j cites
//! paper i. Column indices need not be sorted within a row. Every stored entry counts
//! as an edge, whatever its value (all values are 1.0 in the upstream files).

use std::collections::BTreeMap;
use std::path::Path;

use crate::data::DataRoots;
use crate::data::npy::{NpyArray, member_path, npz_member, parse_npz};
use crate::error::DataError;

/// A sparse matrix in compressed-sparse-row form, validated on construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Row pointers, `n_rows + 1` values: row i is `indptr[i]..indptr[i + 1]`.
    pub indptr: Vec<usize>,
    /// Column index of each stored entry, each `< n_cols`.
    pub indices: Vec<u32>,
    /// Value of each stored entry.
    pub data: Vec<f32>,
}

impl Csr {
    /// Builds a matrix and checks it: `indptr` has `n_rows + 1` entries, starts at 0, never
    /// decreases and ends at the number of entries; `indices` and `data` have that many
    /// entries; every column index is below `n_cols`. `origin` names the source in errors.
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f32>,
        origin: &Path,
    ) -> Result<Self, DataError> {
        let csr = Self {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        };
        csr.validate(origin)?;
        Ok(csr)
    }

    /// Checks the invariants listed in [`Csr::new`].
    pub fn validate(&self, origin: &Path) -> Result<(), DataError> {
        self.check().map_err(|msg| DataError::parse(origin, msg))
    }

    fn check(&self) -> Result<(), String> {
        let nnz = self.indices.len();
        if self.data.len() != nnz {
            return Err(format!(
                "CSR has {nnz} column indices but {} values",
                self.data.len()
            ));
        }
        if self.indptr.len() != self.n_rows.saturating_add(1) {
            return Err(format!(
                "CSR indptr has {} entries, expected n_rows + 1 = {}",
                self.indptr.len(),
                self.n_rows.saturating_add(1)
            ));
        }
        if self.indptr.first() != Some(&0) {
            return Err("CSR indptr does not start at 0".to_owned());
        }
        if let Some(i) = self.indptr.windows(2).position(|w| w[0] > w[1]) {
            return Err(format!("CSR indptr decreases at row {i}"));
        }
        if self.indptr.last() != Some(&nnz) {
            return Err(format!(
                "CSR indptr ends at {}, expected the number of entries {nnz}",
                self.indptr.last().copied().unwrap_or_default()
            ));
        }
        if let Some((k, j)) = self
            .indices
            .iter()
            .enumerate()
            .find(|&(_, &j)| usize::try_from(j).map_or(true, |j| j >= self.n_cols))
        {
            return Err(format!(
                "CSR column index {j} at entry {k} is out of range (n_cols = {})",
                self.n_cols
            ));
        }
        Ok(())
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `i`.
    ///
    /// # Panics
    /// If `i >= n_rows`, or if the public fields were changed so that the matrix no longer
    /// passes [`Csr::validate`].
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        assert!(
            i < self.n_rows,
            "row {i} out of range ({} rows)",
            self.n_rows
        );
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Number of stored entries in row `i` (panics like [`Csr::row`]).
    pub fn row_nnz(&self, i: usize) -> usize {
        self.row(i).0.len()
    }

    /// Reads the matrix stored as `<prefix>_data`, `<prefix>_indices`, `<prefix>_indptr`
    /// and `<prefix>_shape` in an archive parsed by [`parse_npz`]; `archive` names it.
    pub fn from_npz(
        npz: &BTreeMap<String, NpyArray>,
        prefix: &str,
        archive: &Path,
    ) -> Result<Self, DataError> {
        let (n_rows, n_cols) = read_shape(npz, &format!("{prefix}_shape"), archive)?;

        let name = format!("{prefix}_data");
        let mp = member_path(archive, &name);
        let arr = npz_member(npz, &name, archive)?;
        arr.vector_len(&mp)?;
        let data = arr.as_f32(&mp)?.to_vec();

        let name = format!("{prefix}_indices");
        let mp = member_path(archive, &name);
        let arr = npz_member(npz, &name, archive)?;
        arr.vector_len(&mp)?;
        let indices = arr
            .to_i64_vec(&mp)?
            .into_iter()
            .enumerate()
            .map(|(k, j)| {
                u32::try_from(j)
                    .ok()
                    .filter(|&j| (j as usize) < n_cols)
                    .ok_or_else(|| {
                        DataError::parse(
                            &mp,
                            format!("column index {j} at entry {k} is out of range 0..{n_cols}"),
                        )
                    })
            })
            .collect::<Result<Vec<u32>, _>>()?;

        let name = format!("{prefix}_indptr");
        let mp = member_path(archive, &name);
        let arr = npz_member(npz, &name, archive)?;
        arr.vector_len(&mp)?;
        let indptr = arr
            .to_i64_vec(&mp)?
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                usize::try_from(p).map_err(|_| {
                    DataError::parse(&mp, format!("negative row pointer {p} at entry {k}"))
                })
            })
            .collect::<Result<Vec<usize>, _>>()?;

        let csr = Self {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        };
        csr.check().map_err(|msg| {
            DataError::parse(
                archive,
                format!("arrays {prefix}_data, {prefix}_indices, {prefix}_indptr: {msg}"),
            )
        })?;
        Ok(csr)
    }
}

/// Reads a `(2,)` integer shape array as `(rows, cols)`.
fn read_shape(
    npz: &BTreeMap<String, NpyArray>,
    name: &str,
    archive: &Path,
) -> Result<(usize, usize), DataError> {
    let mp = member_path(archive, name);
    let v = npz_member(npz, name, archive)?.to_i64_vec(&mp)?;
    match v.as_slice() {
        &[r, c] => match (usize::try_from(r), usize::try_from(c)) {
            (Ok(r), Ok(c)) if r <= u32::MAX as usize && c <= u32::MAX as usize => Ok((r, c)),
            _ => Err(DataError::parse(
                mp,
                format!("invalid matrix shape [{r}, {c}]"),
            )),
        },
        other => Err(DataError::parse(
            mp,
            format!("a matrix shape must hold 2 values, found {}", other.len()),
        )),
    }
}

/// A citation graph: directed adjacency, sparse binary features, one label per node.
#[derive(Debug, Clone, PartialEq)]
pub struct CitationGraph {
    /// N×N adjacency; entry (i, j) means paper j cites paper i.
    pub adj: Csr,
    /// N×F bag-of-words features (values 1.0).
    pub features: Csr,
    /// Class index of each node, `< class_names.len()`.
    pub labels: Vec<u8>,
    /// Paper id of each node (nodes are sorted by these strings).
    pub node_names: Vec<String>,
    /// Name of each class.
    pub class_names: Vec<String>,
}

impl CitationGraph {
    /// Number of nodes N.
    pub fn num_nodes(&self) -> usize {
        self.adj.n_rows
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Number of feature dimensions F.
    pub fn num_features(&self) -> usize {
        self.features.n_cols
    }

    /// Number of nodes of each class.
    pub fn class_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.num_classes()];
        for &l in &self.labels {
            if let Some(s) = sizes.get_mut(usize::from(l)) {
                *s += 1;
            }
        }
        sizes
    }

    /// Every stored adjacency entry as `(row, column)`, in storage order (rows ascending,
    /// columns as stored), self-loops included.
    pub fn directed_edges(&self) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(self.adj.nnz());
        for (i, w) in self.adj.indptr.windows(2).enumerate() {
            let cols = self.adj.indices.get(w[0]..w[1]).unwrap_or_default();
            // Rows fit u32: `read_shape` bounds the dimensions.
            let i = i as u32;
            out.extend(cols.iter().map(|&j| (i, j)));
        }
        out
    }

    /// The symmetrised edge set: each unordered pair once as `(u, v)` with `u < v`, sorted;
    /// self-loops `(u, u)` are kept unless `drop_self_loops`.
    pub fn undirected_edges(&self, drop_self_loops: bool) -> Vec<(u32, u32)> {
        let mut e: Vec<(u32, u32)> = self
            .directed_edges()
            .into_iter()
            .filter(|&(u, v)| !(drop_self_loops && u == v))
            .map(|(u, v)| (u.min(v), u.max(v)))
            .collect();
        e.sort_unstable();
        e.dedup();
        e
    }
}

/// Parses a gnn-benchmark SparseGraph archive (Cora, CiteSeer); `origin` names it.
pub fn parse_sparse_graph_npz(bytes: &[u8], origin: &Path) -> Result<CitationGraph, DataError> {
    let npz = parse_npz(bytes, origin)?;
    let adj = Csr::from_npz(&npz, "adj", origin)?;
    if adj.n_rows != adj.n_cols {
        return Err(DataError::parse(
            member_path(origin, "adj_shape"),
            format!(
                "adjacency matrix is not square: {}×{}",
                adj.n_rows, adj.n_cols
            ),
        ));
    }
    let n = adj.n_rows;
    let features = Csr::from_npz(&npz, "attr", origin)?;
    if features.n_rows != n {
        return Err(DataError::parse(
            member_path(origin, "attr_shape"),
            format!(
                "feature matrix has {} rows, the adjacency has {n} nodes",
                features.n_rows
            ),
        ));
    }

    let strings = |name: &str| -> Result<Vec<String>, DataError> {
        let mp = member_path(origin, name);
        let arr = npz_member(&npz, name, origin)?;
        arr.vector_len(&mp)?;
        Ok(arr.as_strings(&mp)?.to_vec())
    };
    let class_names = strings("class_names")?;
    let node_names = strings("node_names")?;
    if node_names.len() != n {
        return Err(DataError::parse(
            member_path(origin, "node_names"),
            format!("{} node names for {n} nodes", node_names.len()),
        ));
    }

    let mp = member_path(origin, "labels");
    let arr = npz_member(&npz, "labels", origin)?;
    arr.vector_len(&mp)?;
    let raw = arr.to_i64_vec(&mp)?;
    if raw.len() != n {
        return Err(DataError::parse(
            &mp,
            format!("{} labels for {n} nodes", raw.len()),
        ));
    }
    let k = class_names.len();
    let labels = raw
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            u8::try_from(l)
                .ok()
                .filter(|&l| usize::from(l) < k)
                .ok_or_else(|| {
                    DataError::parse(
                        &mp,
                        format!("label {l} of node {i} is out of range 0..{k} (number of classes)"),
                    )
                })
        })
        .collect::<Result<Vec<u8>, _>>()?;

    Ok(CitationGraph {
        adj,
        features,
        labels,
        node_names,
        class_names,
    })
}

fn load(roots: &DataRoots, dataset: &str, file: &str) -> Result<CitationGraph, DataError> {
    let (bytes, path) = roots.read_with_path(dataset, file)?;
    parse_sparse_graph_npz(&bytes, &path)
}

/// Loads Cora (dataset `cora`, file `cora/cora.npz`).
pub fn load_cora(roots: &DataRoots) -> Result<CitationGraph, DataError> {
    load(roots, "cora", "cora/cora.npz")
}

/// Loads CiteSeer (dataset `citeseer`, file `citeseer/citeseer.npz`).
pub fn load_citeseer(roots: &DataRoots) -> Result<CitationGraph, DataError> {
    load(roots, "citeseer", "citeseer/citeseer.npz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npy::tests::{npy_f32, npy_i8, npy_i32, npy_i64, npy_str, zip_bytes};

    /// Nodes and undirected edges of the largest connected component.
    fn largest_component(n: usize, edges: &[(u32, u32)]) -> (usize, usize) {
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let mut parent: Vec<usize> = (0..n).collect();
        for &(u, v) in edges {
            let (a, b) = (find(&mut parent, u as usize), find(&mut parent, v as usize));
            parent[a] = b;
        }
        let mut nodes = vec![0usize; n];
        let mut m = vec![0usize; n];
        for i in 0..n {
            let r = find(&mut parent, i);
            nodes[r] += 1;
        }
        for &(u, _) in edges {
            let r = find(&mut parent, u as usize);
            m[r] += 1;
        }
        let best = (0..n).max_by_key(|&r| nodes[r]).unwrap();
        (nodes[best], m[best])
    }

    fn check_common(g: &CitationGraph) {
        assert!(g.adj.data.iter().all(|&x| x == 1.0));
        assert!(g.features.data.iter().all(|&x| x == 1.0));
        let mut sorted = g.node_names.clone();
        sorted.sort();
        assert_eq!(sorted, g.node_names, "nodes are sorted by name");
        for i in 0..g.num_nodes() {
            let cols = g.features.row(i).0;
            assert!(
                cols.windows(2).all(|w| w[0] < w[1]),
                "features sorted in row {i}"
            );
        }
        // No duplicate directed entries.
        let mut d = g.directed_edges();
        let n = d.len();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), n);
    }

    #[test]
    fn real_cora() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        let g = load_cora(&roots).unwrap();
        assert_eq!(g.num_nodes(), 2708);
        assert_eq!(g.num_features(), 1433);
        assert_eq!(g.num_classes(), 7);
        assert_eq!(g.adj.nnz(), 5429);
        assert_eq!(g.features.nnz(), 49216);
        assert_eq!(
            g.class_names,
            [
                "Case_Based",
                "Genetic_Algorithms",
                "Neural_Networks",
                "Probabilistic_Methods",
                "Reinforcement_Learning",
                "Rule_Learning",
                "Theory"
            ]
        );
        assert_eq!(g.class_sizes(), [298, 418, 818, 426, 217, 180, 351]);
        let directed = g.directed_edges();
        assert_eq!(directed.len(), 5429);
        assert!(directed.iter().all(|&(u, v)| u != v), "no self-loops");
        assert_eq!(g.undirected_edges(false).len(), 5278);
        assert_eq!(g.undirected_edges(true).len(), 5278);
        let per_node: Vec<usize> = (0..2708).map(|i| g.features.row_nnz(i)).collect();
        assert_eq!(per_node.iter().min(), Some(&1));
        assert_eq!(per_node.iter().max(), Some(&30));
        check_common(&g);
        // LINQS `cora.cites` line "35 1033": stored as (35, 1033).
        let idx = |name: &str| g.node_names.iter().position(|s| s == name).unwrap() as u32;
        assert!(directed.contains(&(idx("35"), idx("1033"))));
        assert_eq!(g.node_names[0], "1000012");
        assert_eq!(
            largest_component(2708, &g.undirected_edges(true)),
            (2485, 5069)
        );
    }

    #[test]
    fn real_citeseer() {
        let Some(roots) = crate::testing::mirror_roots() else {
            return;
        };
        let g = load_citeseer(&roots).unwrap();
        assert_eq!(g.num_nodes(), 3312);
        assert_eq!(g.num_features(), 3703);
        assert_eq!(g.adj.nnz(), 4715);
        assert_eq!(g.features.nnz(), 105_165);
        assert_eq!(g.class_names, ["AI", "Agents", "DB", "HCI", "IR", "ML"]);
        assert_eq!(g.class_sizes(), [249, 596, 701, 508, 668, 590]);
        let directed = g.directed_edges();
        let self_loops = directed.iter().filter(|&&(u, v)| u == v).count();
        assert_eq!(self_loops, 124);
        assert_eq!(g.undirected_edges(true).len(), 4536);
        assert_eq!(g.undirected_edges(false).len(), 4536 + 124);
        assert!(g.undirected_edges(false).iter().all(|&(u, v)| u <= v));
        // 48 nodes have no edge other than a self-loop.
        let mut deg = vec![0usize; 3312];
        for (u, v) in g.undirected_edges(true) {
            deg[u as usize] += 1;
            deg[v as usize] += 1;
        }
        let only_loop = directed
            .iter()
            .filter(|&&(u, v)| u == v && deg[u as usize] == 0)
            .count();
        assert_eq!(only_loop, 48);
        let per_node: Vec<usize> = (0..3312).map(|i| g.features.row_nnz(i)).collect();
        assert_eq!(per_node.iter().min(), Some(&8));
        assert_eq!(per_node.iter().max(), Some(&54));
        assert!(g.node_names.iter().any(|s| s == "100157"));
        assert!(g.node_names.iter().any(|s| s == "abberley99thisl"));
        check_common(&g);
        assert_eq!(
            largest_component(3312, &g.undirected_edges(true)),
            (2110, 3668)
        );
    }

    /// Members of a valid 4-node, 3-feature, 2-class graph.
    fn members() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("adj_data", npy_f32(&[1.0; 5])),
            ("adj_indices", npy_i32(&[1, 2, 0, 3, 3])),
            ("adj_indptr", npy_i32(&[0, 2, 3, 5, 5])),
            ("adj_shape", npy_i64(&[4, 4])),
            ("attr_data", npy_f32(&[1.0; 4])),
            ("attr_indices", npy_i32(&[0, 2, 1, 0])),
            ("attr_indptr", npy_i32(&[0, 2, 3, 3, 4])),
            ("attr_shape", npy_i64(&[4, 3])),
            ("labels", npy_i8(&[0, 1, 1, 0])),
            ("node_names", npy_str(&["a", "b", "c", "d"])),
            ("class_names", npy_str(&["X", "Y"])),
        ]
    }

    fn build(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let named: Vec<(String, Vec<u8>)> = members
            .iter()
            .map(|(n, b)| (format!("{n}.npy"), b.clone()))
            .collect();
        let refs: Vec<(&str, Vec<u8>)> =
            named.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        zip_bytes(&refs, false)
    }

    fn with(name: &str, bytes: Vec<u8>) -> Vec<u8> {
        let mut m = members();
        for e in &mut m {
            if e.0 == name {
                e.1 = bytes.clone();
            }
        }
        build(&m)
    }

    fn err(bytes: &[u8]) -> String {
        parse_sparse_graph_npz(bytes, Path::new("g.npz"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn fixture_graph() {
        let g = parse_sparse_graph_npz(&build(&members()), Path::new("g.npz")).unwrap();
        assert_eq!(g.num_nodes(), 4);
        assert_eq!(g.num_classes(), 2);
        assert_eq!(g.num_features(), 3);
        assert_eq!(g.class_sizes(), [2, 2]);
        assert_eq!(g.adj.row(0), (&[1u32, 2][..], &[1.0f32, 1.0][..]));
        assert_eq!(g.adj.row(3), (&[][..], &[][..]));
        assert_eq!(g.directed_edges(), [(0, 1), (0, 2), (1, 0), (2, 3), (2, 3)]);
        assert_eq!(g.undirected_edges(true), [(0, 1), (0, 2), (2, 3)]);
        assert_eq!(g.labels, [0, 1, 1, 0]);
        assert_eq!(g.node_names, ["a", "b", "c", "d"]);
        // A self-loop is kept or dropped on request.
        let g = parse_sparse_graph_npz(
            &with("adj_indices", npy_i32(&[1, 2, 1, 3, 2])),
            Path::new("g.npz"),
        )
        .unwrap();
        assert_eq!(
            g.undirected_edges(false),
            [(0, 1), (0, 2), (1, 1), (2, 2), (2, 3)]
        );
        assert_eq!(g.undirected_edges(true), [(0, 1), (0, 2), (2, 3)]);
    }

    #[test]
    fn malformed_graphs_are_rejected() {
        let e = err(&with("labels", npy_i8(&[0, 1, 2, 0])));
        assert!(
            e.contains("g.npz:labels.npy") && e.contains("label 2 of node 2"),
            "{e}"
        );
        let e = err(&with("labels", npy_i8(&[0, 1, -1, 0])));
        assert!(e.contains("label -1"), "{e}");
        let e = err(&with("labels", npy_i8(&[0, 1, 1])));
        assert!(e.contains("3 labels for 4 nodes"), "{e}");
        let e = err(&with("adj_indices", npy_i32(&[1, 2, 0, 4, 3])));
        assert!(
            e.contains("g.npz:adj_indices.npy") && e.contains("out of range"),
            "{e}"
        );
        let e = err(&with("adj_indptr", npy_i32(&[0, 3, 2, 5, 5])));
        assert!(e.contains("decreases at row 1"), "{e}");
        let e = err(&with("adj_indptr", npy_i32(&[1, 2, 3, 5, 5])));
        assert!(e.contains("does not start at 0"), "{e}");
        let e = err(&with("adj_indptr", npy_i32(&[0, 2, 3, 4, 4])));
        assert!(e.contains("expected the number of entries 5"), "{e}");
        let e = err(&with("adj_indptr", npy_i32(&[0, 2, 3, 5])));
        assert!(e.contains("n_rows + 1"), "{e}");
        let e = err(&with("adj_indptr", npy_i32(&[0, -2, 3, 5, 5])));
        assert!(e.contains("negative row pointer"), "{e}");
        let e = err(&with("adj_data", npy_f32(&[1.0; 4])));
        assert!(e.contains("5 column indices but 4 values"), "{e}");
        let e = err(&with("adj_data", npy_i32(&[1; 5])));
        assert!(
            e.contains("g.npz:adj_data.npy") && e.contains("expected dtype <f4"),
            "{e}"
        );
        let e = err(&with("adj_shape", npy_i64(&[4, 5])));
        assert!(e.contains("not square"), "{e}");
        let e = err(&with("adj_shape", npy_i64(&[4])));
        assert!(e.contains("2 values"), "{e}");
        let e = err(&with("adj_shape", npy_i64(&[-4, -4])));
        assert!(e.contains("invalid matrix shape"), "{e}");
        let e = err(&with("attr_shape", npy_i64(&[3, 3])));
        assert!(
            e.contains("indptr has 5 entries") || e.contains("3 rows"),
            "{e}"
        );
        let e = err(&with("node_names", npy_str(&["a", "b"])));
        assert!(e.contains("2 node names for 4 nodes"), "{e}");
        let e = err(&with("class_names", npy_i32(&[0])));
        assert!(e.contains("g.npz:class_names.npy"), "{e}");
        let m: Vec<_> = members()
            .into_iter()
            .filter(|(n, _)| *n != "labels")
            .collect();
        let e = err(&build(&m));
        assert!(e.contains("no member `labels.npy`"), "{e}");
        let full = build(&members());
        let e = err(&full[..full.len() - 30]);
        assert!(e.contains("g.npz") && e.contains("ZIP"), "{e}");
    }
}
