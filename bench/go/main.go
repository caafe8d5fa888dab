// The workloads of `gomap-lab bench`, written against Go's own map, run
// side by side with the Rust maps: insert into an empty map (growing),
// lookup hit, lookup miss, iterate, remove; and bytes per entry from
// runtime.ReadMemStats. Prints one JSON object on stdout.
//
//	go run . -n 1000000 -rounds 5
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// keys matches the lab's: splitmix64 of a counter offset by the seed.
func keys(n int, seed uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = splitmix(uint64(i) + seed*0x100000000000)
	}
	return out
}

// median of xs, leaving xs in round order.
func median(xs []float64) float64 {
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	return sorted[len(sorted)/2]
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

type result struct {
	Op      string  `json:"op"`
	NsPerOp float64 `json:"ns_per_op"`
	// Each round's ns per op, in round order.
	RoundsNs []float64 `json:"rounds_ns"`
}

var sink uint64

func main() {
	n := flag.Int("n", 1000000, "entries")
	rounds := flag.Int("rounds", 5, "rounds (the median is reported)")
	flag.Parse()
	if *n < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "error: -n and -rounds must be at least 1")
		os.Exit(2)
	}
	present := keys(*n, 1)
	absent := keys(*n, 2)
	times := map[string][]float64{}
	perOp := func(op string, start time.Time, count int) {
		times[op] = append(times[op], float64(time.Since(start).Nanoseconds())/float64(count))
	}
	var bytesPerEntry float64
	for r := 0; r < *rounds; r++ {
		before := heapAlloc()
		start := time.Now()
		m := make(map[uint64]uint64)
		for _, k := range present {
			m[k] = k
		}
		perOp("insert", start, *n)
		if r == 0 {
			bytesPerEntry = float64(heapAlloc()-before) / float64(*n)
		}
		start = time.Now()
		for _, k := range present {
			sink += m[k]
		}
		perOp("lookup_hit", start, *n)
		start = time.Now()
		for _, k := range absent {
			if _, ok := m[k]; ok {
				sink++
			}
		}
		perOp("lookup_miss", start, *n)
		start = time.Now()
		for _, v := range m {
			sink += v
		}
		perOp("iterate", start, *n)
		start = time.Now()
		for _, k := range present {
			delete(m, k)
		}
		perOp("remove", start, *n)
	}
	out := struct {
		Version       string   `json:"version"`
		Results       []result `json:"results"`
		BytesPerEntry float64  `json:"bytes_per_entry"`
	}{Version: runtime.Version(), BytesPerEntry: bytesPerEntry}
	for _, op := range []string{"insert", "lookup_hit", "lookup_miss", "remove", "iterate"} {
		out.Results = append(out.Results, result{op, median(times[op]), times[op]})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
