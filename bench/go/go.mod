module gomap/bench

go 1.19
