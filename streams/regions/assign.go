package regions

import "math"

// assign solves the assignment problem on a dense rows×cols weight matrix (row-major, rows <=
// cols): it returns, for every row, the column it is assigned to, so that the assignment is
// one to one and the total weight is as large as possible. Weights are exact integers (see
// weigh), so there is no rounding anywhere and the result is a deterministic function of the
// matrix.
//
// The method is the shortest augmenting path form of the Hungarian method (Jonker and
// Volgenant 1987, "A shortest augmenting path algorithm for dense and sparse linear assignment
// problems", Computing 38; Crouse 2016, "On implementing 2D rectangular assignment
// algorithms", IEEE Trans. Aerospace and Electronic Systems 52(4), the method SciPy's
// linear_sum_assignment implements). After a row reduction (below), the rows still without a
// column are added one at a time. For each, a Dijkstra search
// over the columns, on costs reduced by dual potentials u (rows) and v (columns), finds the
// cheapest alternating path from the new row to a free column, and the path is flipped.
// Keeping every reduced cost c_ij − u_i − v_j non-negative and those of assigned pairs zero
// makes each search a Dijkstra search and the final assignment optimal (complementary
// slackness). Each step of a search scans the columns not reached yet and reaches one; every
// step but the last reaches an assigned column, so a search takes at most rows steps of
// O(cols), and the whole O(rows²·cols).
func assign(w []int64, rows, cols int) []int {
	const inf = math.MaxInt64
	u := make([]int64, rows)   // row potentials
	v := make([]int64, cols)   // column potentials
	colOf := make([]int, rows) // colOf[i]: the column assigned to row i, or −1
	rowOf := make([]int, cols) // rowOf[j]: the row assigned to column j, or −1
	for i := range colOf {
		colOf[i] = -1
	}
	for j := range rowOf {
		rowOf[j] = -1
	}
	pred := make([]int, cols) // the row before each column on its shortest path
	// The columns not reached yet, with their shortest distance so far and the row it came
	// from, kept side by side in scan order so the inner loop reads memory in sequence; a
	// reached column is swapped out to the end.
	todo := make([]int, cols)
	tdist := make([]int64, cols)
	tpred := make([]int, cols)
	tv := make([]int64, cols)    // v of each column not reached, copied at the search's start
	seen := make([]int, 0, cols) // columns reached, in order
	seenDist := make([]int64, 0, cols)

	// Row reduction (the first step of Jonker and Volgenant's initialization, valid for
	// rectangular problems too since it leaves every v at 0): each row's potential is its
	// cheapest cost, and a row whose cheapest column is still free takes it. The reduced costs
	// are then non-negative and zero on the pairs taken, as the searches below require, and
	// many rows need no search at all; where rows agree on their favourite columns, the
	// searches make room.
	for i := 0; i < rows; i++ {
		row := w[i*cols : (i+1)*cols]
		best := 0
		for j, x := range row {
			if x > row[best] || x == row[best] && rowOf[j] < 0 && rowOf[best] >= 0 {
				best = j
			}
		}
		u[i] = -row[best]
		if rowOf[best] < 0 {
			rowOf[best], colOf[i] = i, best
		}
	}

	for cur := 0; cur < rows; cur++ {
		if colOf[cur] >= 0 {
			continue
		}
		seen, seenDist = seen[:0], seenDist[:0]
		for j := 0; j < cols; j++ {
			todo[j], tdist[j], tv[j] = j, inf, v[j]
		}
		n := cols
		i, reach, sink := cur, int64(0), -1
		for sink < 0 {
			// Relax the edges of row i (cost = −weight), then reach the closest column;
			// among equally close ones a free column first, which ends the search sooner.
			row := w[i*cols : (i+1)*cols]
			base := reach - u[i]
			best, bestAt := int64(inf), -1
			td, tp, tvv, tj := tdist[:n], tpred[:n], tv[:n], todo[:n]
			for k, j := range tj {
				if d := base - row[j] - tvv[k]; d < td[k] {
					td[k], tp[k] = d, i
				}
				if bestAt < 0 || td[k] < best || td[k] == best && rowOf[j] < 0 && rowOf[tj[bestAt]] >= 0 {
					best, bestAt = td[k], k
				}
			}
			reach = best
			j := tj[bestAt]
			pred[j] = tp[bestAt]
			seen, seenDist = append(seen, j), append(seenDist, best)
			n--
			todo[bestAt], tdist[bestAt], tpred[bestAt], tv[bestAt] = todo[n], tdist[n], tpred[n], tv[n]
			if rowOf[j] < 0 {
				sink = j
			} else {
				i = rowOf[j]
			}
		}
		// Update the potentials of the rows and columns the search reached, so that the
		// reduced costs stay non-negative and those along the new path become zero.
		u[cur] += reach
		for k, j := range seen {
			if r := rowOf[j]; r >= 0 {
				u[r] += reach - seenDist[k]
			}
			v[j] -= reach - seenDist[k]
		}
		// Flip the path: every column on it takes the row before it.
		for j := sink; ; {
			r := pred[j]
			rowOf[j] = r
			j, colOf[r] = colOf[r], j
			if r == cur {
				break
			}
		}
	}
	return colOf
}
