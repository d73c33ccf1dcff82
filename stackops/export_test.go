package stackops

// ModelCached reports whether a Stack's model came from the compose-model
// cache (for the external compatibility suite).
func ModelCached(s *Stack) bool { return s.modelCached }
