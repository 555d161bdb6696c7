package money

import (
	"encoding/json"
	"testing"
)

func TestUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Cents
		wantErr bool
	}{
		{`20`, 2000, false},
		{`20.5`, 2050, false},
		{`20.50`, 2050, false},
		{`0.1`, 10, false},
		{`20.10`, 2010, false},
		{`"20.10"`, 2010, false},
		{`" 7 "`, 700, false},
		{`".5"`, 50, false},
		{`-3`, -300, false},
		{`1000000`, 100000000, false},
		{`20.505`, 0, true},
		{`1e3`, 0, true},
		{`"abc"`, 0, true},
		{`""`, 0, true},
		{`"."`, 0, true},
		{`"20."`, 2000, false},
		{`null`, 0, true},
		{`true`, 0, true},
		{`99999999999999999999`, 0, true},
		{`"0x10"`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var c Cents
			err := json.Unmarshal([]byte(tt.in), &c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && c != tt.want {
				t.Fatalf("got %d, want %d", c, tt.want)
			}
		})
	}
}

func TestMarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Cents
		want string
	}{
		{2000, `20`},
		{2050, `20.5`},
		{2055, `20.55`},
		{5, `0.05`},
		{0, `0`},
		{100000000, `1000000`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%d) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for in, want := range map[Cents]string{2050: "20.50", 5: "0.05", -150: "-1.50", 0: "0.00"} {
		if got := in.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", in, got, want)
		}
	}
}
