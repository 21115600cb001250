package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// cpuSnapshot is the CPU time (user+system) of every process on the host, by pid: the machine
// is shared, so who used the cores during a phase is part of explaining its figure.
type cpuSnapshot struct {
	at    time.Time
	ticks map[int]procTicks
}

type procTicks struct {
	comm  string
	ticks int64
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func snapshotCPU() cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), ticks: map[int]procTicks{}}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// comm is in parentheses and may contain spaces; fields after it are fixed.
		str := string(b)
		l, r := strings.IndexByte(str, '('), strings.LastIndexByte(str, ')')
		if l < 0 || r < l {
			continue
		}
		f := strings.Fields(str[r+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		pid, _ := strconv.Atoi(strings.TrimSpace(str[:l]))
		s.ticks[pid] = procTicks{comm: str[l+1 : r], ticks: ut + st}
	}
	return s
}

// cpuUsers returns the processes that used the most CPU between a and b, as "name[pid] X% of
// one core" strings, with the total over all processes first; with items > 0 each also gets
// its CPU time per item (event or record), the cost that decides how far 2 cores go.
func cpuUsers(a, b cpuSnapshot, own map[int]string, top, items int) string {
	type use struct {
		name string
		sec  float64
	}
	var uses []use
	var total float64
	for pid, t := range b.ticks {
		d := t.ticks - a.ticks[pid].ticks
		if d <= 0 {
			continue
		}
		name := t.comm
		if o, ok := own[pid]; ok {
			name = o
		}
		sec := float64(d) / clockTicks
		total += sec
		uses = append(uses, use{fmt.Sprintf("%s[%d]", name, pid), sec})
	}
	sort.Slice(uses, func(i, j int) bool { return uses[i].sec > uses[j].sec })
	wall := b.at.Sub(a.at).Seconds()
	per := func(sec float64) string {
		if items <= 0 {
			return ""
		}
		return fmt.Sprintf(" (%.1f µs CPU/item)", sec/float64(items)*1e6)
	}
	parts := []string{fmt.Sprintf("all processes %.0f%% of one core over %.1fs%s", 100*total/wall, wall, per(total))}
	for i, u := range uses {
		if i == top {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%%s", u.name, 100*u.sec/wall, per(u.sec)))
	}
	return strings.Join(parts, "; ")
}
