package privilege

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	text := "Name:\tnetanomaly\nUid:\t65534\t65534\t65534\t65534\nGid:\t65533\t65533\t65533\t65533\n" +
		"CapInh:\t0000000000002000\nCapPrm:\t0000000000002000\nCapEff:\t0000000000002000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n"
	st, err := ParseStatus(text)
	if err != nil {
		t.Fatal(err)
	}
	raw := Of(CapNetRaw)
	if st.UID != 65534 || st.GID != 65533 || st.Effective != raw || st.Permitted != raw || st.Inheritable != raw || st.Amb != 0 || st.Bounding != 0x1ffffffffff {
		t.Errorf("parsed %+v", st)
	}
	for _, bad := range []string{"", "Uid:\t0\n", strings.Replace(text, "0000000000002000", "zz", 1)} {
		if _, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) succeeded", bad)
		}
	}
}

func TestSetString(t *testing.T) {
	for _, c := range []struct {
		s    Set
		want string
	}{
		{0, "none"},
		{Of(CapNetRaw), "CAP_NET_RAW"},
		{Of(CapNetAdmin, CapNetRaw, CapNetBindService), "CAP_NET_BIND_SERVICE,CAP_NET_ADMIN,CAP_NET_RAW"},
		{Of(50), "CAP_50"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%#x: %q, want %q", uint64(c.s), got, c.want)
		}
	}
}
