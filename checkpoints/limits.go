package checkpoints

import (
	"encoding/binary"
	"fmt"
)

// Limits that checkStructure enforces before the msgpack decoder allocates anything.
const (
	// maxDepth bounds the nesting of maps and arrays. A version 1 checkpoint nests them 5
	// deep (file, metadata, catalog, items, item); the slack leaves room for new fields.
	maxDepth = 64

	// maxArrayElements bounds the declared elements of all arrays in a file together. The
	// decoder allocates a whole Go slice from an array's declared length, at most 112 bytes
	// per element (a simenv.Item), so this keeps the total under 500 MB. The largest array
	// in practice is the embedded catalog, one element per item.
	maxArrayElements = 1 << 22
)

// checkStructure walks the msgpack encoding in data without decoding it. It rejects a
// string, binary or extension length beyond the end of the data, and an array or map that
// declares more values than bytes remain. It also rejects nesting beyond maxDepth, more
// than maxArrayElements array elements in total, the reserved byte 0xc1, and bytes after
// the first value. Errors give the byte offset, and the caller adds that the file is
// corrupted.
//
// msgpack v5.4.1 allocates a slice from the declared length before it reads the
// elements, without its own limit of 1e6 elements (decodeSliceValue tests a flag with
// "!= 1"). A file of a few hundred bytes that declares 2^32-1 tensors thus exhausts memory
// and kills the process. This check runs first, so such a file costs no allocation.
func checkStructure(data []byte) error {
	return CheckMsgpack(data, maxArrayElements)
}

// CheckMsgpack runs the checks of checkStructure on data, with maxElements in place of
// maxArrayElements, for other msgpack files, such as logs of slates, whose arrays may be
// larger than a checkpoint's. Call it before msgpack.Unmarshal on data that may be corrupt.
func CheckMsgpack(data []byte, maxElements uint64) error {
	// pending[d] is the number of values still to read in the container open at depth d+1;
	// a map of n entries contains 2n values.
	pending := make([]uint64, 0, 8)
	var arrayElements uint64
	pos := 0
	for {
		if pos >= len(data) {
			return fmt.Errorf("the data ends at byte %d inside a msgpack map or array", pos)
		}
		remaining := uint64(len(data) - pos)
		code := data[pos]
		head, payload, elements, isArray, err := msgpackHead(data[pos:])
		if err != nil {
			return fmt.Errorf("at byte %d: %v", pos, err)
		}
		if payload > remaining-uint64(head) {
			return fmt.Errorf("at byte %d a msgpack %s declares %d bytes, but only %d remain",
				pos, kindOf(code), payload, remaining-uint64(head))
		}
		pos += head + int(payload)

		// A container's elements each take at least one byte.
		if elements > uint64(len(data)-pos) {
			return fmt.Errorf("at byte %d a msgpack array or map declares %d values, but only %d bytes remain",
				pos-head, elements, len(data)-pos)
		}
		if isArray {
			arrayElements += elements
			if arrayElements > maxElements {
				return fmt.Errorf("at byte %d the arrays exceed %d elements in total, more than any SimShop file contains", pos-head, maxElements)
			}
		}

		// Count the value in its container. Then open it if it is a non-empty container,
		// or else close every container it completes.
		if len(pending) > 0 {
			pending[len(pending)-1]--
		}
		if elements > 0 {
			if len(pending) == maxDepth {
				return fmt.Errorf("at byte %d maps and arrays nest more than %d deep, deeper than any SimShop file", pos-head, maxDepth)
			}
			pending = append(pending, elements)
		} else {
			for len(pending) > 0 && pending[len(pending)-1] == 0 {
				pending = pending[:len(pending)-1]
			}
		}
		if len(pending) == 0 {
			break
		}
	}
	if pos != len(data) {
		return fmt.Errorf("%d bytes follow the end of the msgpack map at byte %d", len(data)-pos, pos)
	}
	return nil
}

// msgpackHead decodes the header of the msgpack value at the start of b, following the
// msgpack specification's table of formats. It returns the header's length in bytes, the
// payload bytes that follow the header (string, binary, extension and number bodies), the
// number of values a map or array contains (two per map entry), and whether the value is
// an array.
func msgpackHead(b []byte) (head int, payload, elements uint64, isArray bool, err error) {
	code := b[0]
	switch {
	case code <= 0x7f, code >= 0xe0: // positive and negative fixint
		return 1, 0, 0, false, nil
	case code <= 0x8f: // fixmap
		return 1, 0, 2 * uint64(code&0x0f), false, nil
	case code <= 0x9f: // fixarray
		return 1, 0, uint64(code & 0x0f), true, nil
	case code <= 0xbf: // fixstr
		return 1, uint64(code & 0x1f), 0, false, nil
	}

	// The remaining formats carry a fixed-size body or a big-endian length after the code.
	switch code {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return 1, 0, 0, false, nil
	case 0xc1:
		return 0, 0, 0, false, fmt.Errorf("byte 0xc1 is reserved and never appears in msgpack")
	case 0xcc, 0xd0: // uint8, int8
		return 1, 1, 0, false, nil
	case 0xcd, 0xd1: // uint16, int16
		return 1, 2, 0, false, nil
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return 1, 4, 0, false, nil
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return 1, 8, 0, false, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: a type byte and the data
		return 1, 1 + 1<<(code-0xd4), 0, false, nil
	}
	var lengthBytes int
	switch code {
	case 0xc4, 0xc7, 0xd9: // bin8, ext8, str8
		lengthBytes = 1
	case 0xc5, 0xc8, 0xda, 0xdc, 0xde: // bin16, ext16, str16, array16, map16
		lengthBytes = 2
	default: // 0xc6, 0xc9, 0xdb, 0xdd, 0xdf: bin32, ext32, str32, array32, map32
		lengthBytes = 4
	}
	if len(b) < 1+lengthBytes {
		return 0, 0, 0, false, fmt.Errorf("the data ends inside the length of a msgpack value")
	}
	var n uint64
	switch lengthBytes {
	case 1:
		n = uint64(b[1])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[1:]))
	default:
		n = uint64(binary.BigEndian.Uint32(b[1:]))
	}
	head = 1 + lengthBytes
	switch code {
	case 0xc7, 0xc8, 0xc9: // ext: a type byte, then n bytes
		return head, 1 + n, 0, false, nil
	case 0xdc, 0xdd:
		return head, 0, n, true, nil
	case 0xde, 0xdf:
		return head, 0, 2 * n, false, nil
	}
	return head, n, 0, false, nil
}

// kindOf names the msgpack family of a value with a payload, for error messages.
func kindOf(code byte) string {
	switch {
	case code >= 0xa0 && code <= 0xbf, code >= 0xd9 && code <= 0xdb:
		return "string"
	case code >= 0xc4 && code <= 0xc6:
		return "binary"
	case code >= 0xc7 && code <= 0xc9, code >= 0xd4 && code <= 0xd8:
		return "extension"
	}
	return "number"
}
