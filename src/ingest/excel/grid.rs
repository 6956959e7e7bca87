//! A sheet's cells held sparse, read row by row as calamine's dense range would give them.
//!
//! Why not calamine's `Range`: it lays a sheet out as one rectangle spanning its extreme
//! cells, so an `.xlsx` of a few kilobytes with cells at A1 and XFD1048576 asks for 17 billion
//! cells and aborts the run. Here memory follows the cells the file holds, and only one row
//! at a time is laid out, at most `MAX_COLUMNS` wide. What the reader sees is the same as
//! before: rows counted from the first used row, columns from the first used column, the
//! last of two cells at one position winning.

use calamine::Data;

/// A row of a sheet as a dense range would hold it: its index from the first used row and
/// its cells from the first used column, `Data::Empty` where the sheet has none.
pub struct Row {
    pub index: u32,
    pub cells: Vec<Data>,
}

pub struct Grid {
    /// (row, column, value) from the first used row and column, sorted, one per position,
    /// columns within `width`.
    cells: Vec<(u32, u32, Data)>,
    /// The sheet's first used row (0-based), for line numbers.
    pub first_row: u32,
    /// Rows from the first used to the last used.
    pub height: u32,
    /// Columns laid out: from the first used to the last used, at most `max_width`.
    width: usize,
}

impl Grid {
    /// From non-empty cells at absolute (row, column), in the order the sheet gives them.
    pub fn new(mut cells: Vec<(u32, u32, Data)>, max_width: usize) -> Grid {
        if cells.is_empty() {
            return Grid {
                cells,
                first_row: 0,
                height: 0,
                width: 0,
            };
        }
        let (mut top, mut bottom, mut left, mut right) = (u32::MAX, 0, u32::MAX, 0);
        for &(r, c, _) in &cells {
            (top, bottom) = (top.min(r), bottom.max(r));
            (left, right) = (left.min(c), right.max(c));
        }
        let width = ((right - left) as usize + 1).min(max_width);
        cells.retain(|&(_, c, _)| ((c - left) as usize) < width);
        for cell in &mut cells {
            cell.0 -= top;
            cell.1 -= left;
        }
        // Stable: of two cells at one position the later stays later, and is the one kept.
        cells.sort_by_key(|&(r, c, _)| (r, c));
        let mut kept: Vec<(u32, u32, Data)> = Vec::with_capacity(cells.len());
        for cell in cells {
            match kept.last_mut() {
                Some(last) if (last.0, last.1) == (cell.0, cell.1) => *last = cell,
                _ => kept.push(cell),
            }
        }
        Grid {
            cells: kept,
            first_row: top,
            height: bottom - top + 1,
            width,
        }
    }

    /// Row `index` laid out (empty cells where the sheet has none).
    pub fn row(&self, index: u32) -> Row {
        let from = self.cells.partition_point(|c| c.0 < index);
        let to = self.cells.partition_point(|c| c.0 <= index);
        self.lay_out(index, &self.cells[from..to])
    }

    /// The rows after `index` that hold at least one cell, laid out one at a time.
    pub fn rows_after(&self, index: u32) -> impl Iterator<Item = Row> + '_ {
        let from = self.cells.partition_point(|c| c.0 <= index);
        self.cells[from..]
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| self.lay_out(run[0].0, run))
    }

    /// The cells of column `col` in the rows after `index`.
    pub fn column_after(&self, index: u32, col: usize) -> impl Iterator<Item = &Data> + '_ {
        let from = self.cells.partition_point(|c| c.0 <= index);
        self.cells[from..]
            .iter()
            .filter(move |c| c.1 as usize == col)
            .map(|c| &c.2)
    }

    fn lay_out(&self, index: u32, run: &[(u32, u32, Data)]) -> Row {
        let mut cells = vec![Data::Empty; self.width];
        for (_, c, v) in run {
            cells[*c as usize] = v.clone();
        }
        Row { index, cells }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Data {
        Data::String(t.into())
    }

    #[test]
    fn rows_and_columns_count_from_the_first_used() {
        let grid = Grid::new(
            vec![
                (5, 3, s("b")),
                (2, 2, s("a")),
                (5, 2, s("c")),
                (2, 2, s("A")),
            ],
            1024,
        );
        assert_eq!((grid.first_row, grid.height), (2, 4));
        assert_eq!(grid.row(0).cells, vec![s("A"), Data::Empty]); // the later of two wins
        assert_eq!(grid.row(1).cells, vec![Data::Empty, Data::Empty]);
        let after: Vec<(u32, Vec<Data>)> = grid.rows_after(0).map(|r| (r.index, r.cells)).collect();
        assert_eq!(after, vec![(3, vec![s("c"), s("b")])]);
        let col: Vec<&Data> = grid.column_after(0, 1).collect();
        assert_eq!(col, vec![&s("b")]);
    }

    #[test]
    fn far_cells_cost_nothing() {
        // A1 and XFD1048576: a dense range would be 17 billion cells.
        let grid = Grid::new(vec![(0, 0, s("a")), (1_048_575, 16_383, s("z"))], 1024);
        assert_eq!(grid.height, 1_048_576);
        assert_eq!(grid.row(0).cells.len(), 1024);
        // The far cell is past the columns read.
        assert_eq!(grid.rows_after(0).count(), 0);
    }
}
