module github.com/mgutz/ansi
