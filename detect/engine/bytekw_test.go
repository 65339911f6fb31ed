package engine

import "testing"

func TestByteKeywords(t *testing.T) {
	cases := []struct {
		opts, payload string
		want          bool
	}{
		// byte_test: binary, endianness, operators, negation, bitmask.
		{`content:"A"; byte_test:2,=,0x0102,1;`, "A\x01\x02", true},
		{`content:"A"; byte_test:2,=,0x0201,1,little;`, "A\x01\x02", true},
		{`content:"A"; byte_test:2,=,0x0201,1,big;`, "A\x01\x02", false},
		{`content:"A"; byte_test:1,>,5,1;`, "A\x06", true},
		{`content:"A"; byte_test:1,<,5,1;`, "A\x06", false},
		{`content:"A"; byte_test:1,<=,6,1;`, "A\x06", true},
		{`content:"A"; byte_test:1,>=,7,1;`, "A\x06", false},
		{`content:"A"; byte_test:1,!=,6,1;`, "A\x06", false},
		{`content:"A"; byte_test:1,!<,5,1;`, "A\x06", true},
		{`content:"A"; byte_test:1,&,0x04,1;`, "A\x06", true},
		{`content:"A"; byte_test:1,&,0x08,1;`, "A\x06", false},
		{`content:"A"; byte_test:1,^,0x06,1;`, "A\x06", false},
		{`content:"A"; byte_test:1,=,3,1,bitmask 0x0f0;`, "A\x30", true}, // (0x30 & 0xf0) >> 4
		{`content:"A"; byte_test:1,=,3,1,bitmask 0xf0;`, "A\x3c", true},
		{`content:"A"; byte_test:4,=,1,1;`, "A\x00\x00", false}, // not enough data
		// relative, negative offsets.
		{`content:"XY"; byte_test:1,=,0x41,0,relative;`, "..XYA", true},
		{`content:"XY"; byte_test:1,=,0x58,-2,relative;`, "..XYA", true},
		// string numbers.
		{`content:"n="; byte_test:3,=,123,0,relative,string,dec;`, "n=123", true},
		{`content:"n="; byte_test:3,=,255,0,relative,string,hex;`, "n=0ff", true},
		{`content:"n="; byte_test:2,=,8,0,relative,string,oct;`, "n=10", true},
		{`content:"n="; byte_test:3,=,12,0,relative,string,dec;`, "n=12x", true}, // leading digits
		{`content:"n="; byte_test:2,=,0,0,relative,string,dec;`, "n=xx", false},  // no digits: no match
		// byte_jump.
		{`content:"L"; byte_jump:1,0,relative; content:"Z"; within:1;`, "L\x02..Z", true},
		{`content:"L"; byte_jump:1,0,relative; content:"Z"; within:1;`, "L\x01..Z", false},
		{`content:"L"; byte_jump:1,0,relative,multiplier 2; content:"Z"; within:1;`, "L\x01..Z", true},
		{`content:"L"; byte_jump:1,0,relative,align; content:"Z"; within:1;`, "L\x01..Z", false}, // 1 -> 4: past Z
		{`content:"L"; byte_jump:1,0,relative,post_offset -1; content:"."; within:1;`, "L\x02..Z", true},
		{`content:"L"; byte_jump:1,0,relative,from_beginning; content:"Z"; within:1;`, "L\x04..Z", true},
		{`content:"Q"; byte_jump:0,0,relative,from_end,post_offset -2; content:"yz"; within:2;`, "Q..xyz", true},
		{`content:"Q"; byte_jump:0,0,relative,post_offset -2; content:"..Q"; within:3;`, "..Q", false},
		{`content:"L"; byte_jump:1,0,relative;`, "L\x09", false}, // jump past the end
		{`content:"L"; byte_jump:2,0,relative,string,dec; content:"Z"; within:1;`, "L03...Z", true},
		// byte_extract and variables.
		{`content:"L"; byte_extract:1,0,len,relative; content:"Z"; distance:len; within:1;`, "L\x03...Z", true},
		{`content:"L"; byte_extract:1,0,len,relative; content:"Z"; distance:len; within:1;`, "L\x02...Z", false},
		{`byte_extract:1,0,off; content:"Z"; offset:off; depth:1;`, "\x04...Z", true},
		{`byte_extract:1,0,v; byte_test:1,=,v,1;`, "\x07\x07", true},
		{`byte_extract:1,0,v; byte_test:1,=,v,1;`, "\x07\x08", false},
		{`byte_extract:1,0,v; isdataat:v;`, "\x04abc", false},
		{`byte_extract:1,0,v; isdataat:v;`, "\x04abcd", true},
		{`byte_extract:1,0,v,multiplier 2; byte_test:1,=,v,1;`, "\x03\x06", true},
		{`byte_extract:1,0,v,align 4; byte_test:1,=,v,1;`, "\x05\x08", true},
		{`content:"|00 00 00|"; byte_extract:1,4,n,relative; byte_jump:n,0,relative; isdataat:1,relative;`, "\x00\x00\x00....\x01\x02abZ", true},
		{`content:"|00 00 00|"; byte_extract:1,4,n,relative; byte_jump:n,0,relative; isdataat:1,relative;`, "\x00\x00\x00....\x01\x05Z", false},
		// byte_test with a variable byte count (Suricata 7+).
		{`byte_extract:1,5,rpkt_len; byte_test:rpkt_len,=,0x01,5,bitmask 0xFF;`, "....\x01\x01", true},
		{`byte_extract:1,5,rpkt_len; byte_test:rpkt_len,=,0x01,5,bitmask 0xFF;`, "....\x01\x02", false},
		{`byte_extract:1,0,n; byte_test:n,=,0x0102,1;`, "\x02\x01\x02", true},
		{`byte_extract:1,0,n; byte_test:n,=,0x0102,1;`, "\x01\x01\x02", false},                        // reads 1 byte: 0x01
		{`byte_extract:1,0,n; byte_test:n,=,0x0102,1;`, "\x03\x01\x02", false},                        // 3 bytes not there
		{`byte_extract:1,0,n; byte_test:n,!=,5,1;`, "\x00\x07", false},                                // 0 bytes: no match
		{`byte_extract:1,0,n; byte_test:n,=,0,1;`, "\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00", false}, // 9 > 8 binary
		{`byte_extract:1,0,n; byte_test:n,=,12,1,string,dec;`, "\x02123", true},
		{`byte_extract:1,0,n; byte_test:n,=,123,1,string,dec;`, "\x03123", true},
		{`byte_math:bytes 1, offset 0, oper -, rvalue 1, result n; byte_test:n,=,0x0304,1;`, "\x03\x03\x04", true},
		// byte_math.
		{`byte_math:bytes 1, offset 0, oper +, rvalue 2, result r; byte_test:1,=,r,1;`, "\x03\x05", true},
		{`byte_math:bytes 1, offset 0, oper <<, rvalue 2, result r; byte_test:1,=,r,1;`, "\x02\x08", true},
		{`byte_math:bytes 1, offset 0, oper /, rvalue 0, result r;`, "\x02", false},
		{`byte_math:bytes 2, offset 0, oper -, rvalue 1, result r, endian little; byte_test:1,=,r,2;`, "\x05\x00\x04", true},
		{`byte_math:bytes 2, offset 0, oper *, rvalue 2, result r, string dec; byte_test:1,=,r,2;`, "12\x18", true},
		{`byte_extract:1,0,k; byte_math:bytes 1, offset 1, oper *, rvalue k, result r; byte_test:1,=,r,2;`, "\x03\x04\x0c", true},
	}
	for _, c := range cases {
		expectMatch(t, c.opts, c.payload, c.want)
	}
}

func TestParseStringNum(t *testing.T) {
	for _, c := range []struct {
		in string
		f  uint8
		v  uint64
		ok bool
	}{
		{"123", numDec, 123, true}, {" 42", numDec, 42, true}, {"+7", numDec, 7, true},
		{"0x1f", numHex, 31, true}, {"ff", numHex, 255, true}, {"777", numOct, 511, true},
		{"8", numOct, 0, false}, {"", numDec, 0, false}, {"-1", numDec, 0, false},
		{"99999999999999999999999", numDec, 0, false},
	} {
		v, ok := parseStringNum([]byte(c.in), c.f)
		if v != c.v || ok != c.ok {
			t.Errorf("%q/%d: %d,%v want %d,%v", c.in, c.f, v, ok, c.v, c.ok)
		}
	}
}
