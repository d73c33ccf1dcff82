package envfile

// What the benchmarks in package envfile_test reach inside.

// BigEnv is the 10,000-line .env of the benchmarks.
var BigEnv = bigEnv

// ResetCache forgets every parse, as a new process starts with none.
func ResetCache() {
	parseCache.Lock()
	parseCache.byPath = nil
	parseCache.Unlock()
}
