// A small leaky Go service for `gomap-lab pprof`: three maps and two
// look-alikes that are not maps, run in two phases, with a heap profile
// written after each (heap1.pb.gz, heap2.pb.gz in -out).
//
//   - leaky:   map[string]uint64, written and never emptied: it only grows.
//   - burst:   map[uint64][4]uint64, a burst of entries between the two
//     profiles, then emptied by delete and kept: Go never shrinks it.
//   - healthy: map[int32]int32 made with a hint, the same number of entries
//     all along (one delete per insert).
//   - slice:   a []uint64 that only grows by append (not a map).
//   - items:   a pile of 208-byte structs, the size of the leaky map's
//     bucket in Go's classic layout (not a map).
//
// Standard library only.
//
//	go run ./leaky -out /tmp/heap -leaky 400000 -burst 50000
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
)

// item is 208 bytes: 26 words.
type item struct {
	id   uint64
	name string
	pad  [23]uint64
}

var (
	leaky   map[string]uint64
	burst   map[uint64][4]uint64
	healthy map[int32]int32
	slice   []uint64
	items   []*item
	// healthy's oldest key: it holds keys [oldest, next).
	oldest, next int32
)

func grow(from, to int) {
	for i := from; i < to; i++ {
		leaky["user:"+strconv.Itoa(i)] = uint64(i)
	}
}

func bursty(n int) {
	for i := 0; i < n; i++ {
		burst[uint64(i)*0x9e3779b97f4a7c15] = [4]uint64{uint64(i)}
	}
	for k := range burst {
		delete(burst, k)
	}
}

func churn(ops int) {
	for i := 0; i < ops; i++ {
		if next-oldest >= 1000 {
			delete(healthy, oldest)
			oldest++
		}
		healthy[next] = next
		next++
	}
}

func appendTo(n int) {
	for len(slice) < n {
		slice = append(slice, uint64(len(slice)))
	}
}

func pile(n int) {
	for len(items) < n {
		items = append(items, &item{id: uint64(len(items))})
	}
}

func writeHeap(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	out := flag.String("out", ".", "directory for heap1.pb.gz and heap2.pb.gz")
	rate := flag.Int("rate", 1, "runtime.MemProfileRate: 1 records every allocation; 524288 is Go's default")
	nLeaky := flag.Int("leaky", 400000, "entries in the leaky map at the second profile (a quarter at the first)")
	nBurst := flag.Int("burst", 50000, "entries in the burst between the profiles")
	nChurn := flag.Int("churn", 100000, "inserts (each with a delete) into the healthy map per phase")
	nSlice := flag.Int("slice", 2000000, "elements in the growing slice at the second profile (half at the first)")
	nItems := flag.Int("items", 40000, "structs in the pile at the second profile (half at the first)")
	serve := flag.String("serve", "", "after writing both profiles, serve net/http/pprof on this loopback address (e.g. 127.0.0.1:0), print it, and run until stdin closes")
	flag.Parse()
	if *rate < 1 || *nLeaky < 4 || *nBurst < 0 || *nChurn < 0 || *nSlice < 2 || *nItems < 2 {
		fmt.Fprintln(os.Stderr, "error: -rate, -leaky, -slice and -items must be positive, -burst and -churn not negative")
		os.Exit(2)
	}
	// Before the maps are made, so that their making is recorded too.
	runtime.MemProfileRate = *rate
	leaky = map[string]uint64{}
	burst = map[uint64][4]uint64{}
	healthy = make(map[int32]int32, 1024)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}

	// Phase 1.
	grow(0, *nLeaky/4)
	bursty(1000)
	churn(*nChurn)
	appendTo(*nSlice / 2)
	pile(*nItems / 2)
	if err := writeHeap(filepath.Join(*out, "heap1.pb.gz")); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}

	// Phase 2.
	grow(*nLeaky/4, *nLeaky)
	bursty(*nBurst)
	churn(*nChurn)
	appendTo(*nSlice)
	pile(*nItems)
	if err := writeHeap(filepath.Join(*out, "heap2.pb.gz")); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	fmt.Printf("{\"go\": %q, \"leaky\": %d, \"burst\": %d, \"healthy\": %d, \"slice\": %d, \"items\": %d}\n",
		runtime.Version(), len(leaky), len(burst), len(healthy), len(slice), len(items))

	if *serve != "" {
		ln, err := net.Listen("tcp", *serve)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		fmt.Printf("serving http://%s/debug/pprof/heap\n", ln.Addr())
		go http.Serve(ln, nil)
		// Until stdin closes.
		buf := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				break
			}
		}
	}
	runtime.KeepAlive(leaky)
	runtime.KeepAlive(burst)
	runtime.KeepAlive(healthy)
}
