package stackops

// ModelCached reports whether a Stack's model came from the compose-model
// cache (for the external compatibility suite).
func ModelCached(s *Stack) bool { return s.modelCached }

// HintOptions reads project flags as stackpilot's global flags do (for the
// external compatibility suite).
var HintOptions = hintOptions
