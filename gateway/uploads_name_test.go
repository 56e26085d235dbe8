package gateway

import "testing"

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{
		"a.png":                 "a.png",
		`C:\fakepath\a.png`:     "a.png",
		"dir/sub/b.jpg":         "b.jpg",
		"../../etc/passwd":      "passwd",
		`..\..\windows\win.ini`: "win.ini",
		"":                      "",
		"trailing/":             "",
	} {
		if got := baseName(in); got != want {
			t.Errorf("baseName(%q) = %q, want %q", in, got, want)
		}
	}
}
