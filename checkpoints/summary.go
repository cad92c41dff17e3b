package checkpoints

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// LoadSummary reads the checkpoint at path like Load, except that it streams past the
// replay buffer instead of reading it into memory, so a file of any buffer size can be
// inspected with little memory. The returned File has Training.Replay nil, and the second
// result is the size in bytes of the replay buffer's encoding (0 when none is stored).
func LoadSummary(path string) (*File, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("checkpoints: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("checkpoints: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, 0, fmt.Errorf("checkpoints: %s is larger than %d bytes; it is not a SimShop checkpoint", path, maxFileSize)
	}
	w := &summaryWriter{r: bufio.NewReader(fh)}
	if err := w.copyValue(0, ""); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("the file is truncated or corrupted: it ends inside a value")
		}
		return nil, 0, fmt.Errorf("checkpoints: load %s: %w", path, err)
	}
	if _, err := w.r.ReadByte(); err != io.EOF {
		return nil, 0, fmt.Errorf("checkpoints: load %s: the file has bytes after the end of the checkpoint: it is corrupted", path)
	}
	f, err := Decode(w.out.Bytes())
	if err != nil {
		return nil, 0, loadError(path, err)
	}
	return f, w.skipped, nil
}

// summaryWriter copies one msgpack value from r to out, replacing the value of the key
// "replay" inside the top-level "training" map by nil.
type summaryWriter struct {
	r        *bufio.Reader
	out      bytes.Buffer
	skipping bool  // while true, bytes are counted and dropped instead of copied
	skipped  int64 // bytes dropped
}

// Write appends p to the output, or drops it while skipping.
func (w *summaryWriter) Write(p []byte) (int, error) {
	if w.skipping {
		w.skipped += int64(len(p))
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *summaryWriter) writeByte(b byte) { w.Write([]byte{b}) }

// copyValue copies the next value; path names where it sits ("", "training", ...).
func (w *summaryWriter) copyValue(depth int, path string) error {
	if depth > maxDepth {
		return fmt.Errorf("values nest deeper than %d levels", maxDepth)
	}
	b, err := w.r.ReadByte()
	if err != nil {
		return err
	}
	w.writeByte(b)
	switch {
	case b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3: // ints, nil, bools
		return nil
	case b >= 0x80 && b <= 0x8f:
		return w.copyMap(depth, path, int(b&0x0f))
	case b >= 0x90 && b <= 0x9f:
		return w.copyArray(depth, path, int(b&0x0f))
	case b >= 0xa0 && b <= 0xbf:
		return w.copyBytes(int64(b & 0x1f))
	}
	switch b {
	case 0xc4, 0xd9: // bin 8, str 8
		n, err := w.copyLength(1)
		if err != nil {
			return err
		}
		return w.copyBytes(n)
	case 0xc5, 0xda:
		n, err := w.copyLength(2)
		if err != nil {
			return err
		}
		return w.copyBytes(n)
	case 0xc6, 0xdb:
		n, err := w.copyLength(4)
		if err != nil {
			return err
		}
		return w.copyBytes(n)
	case 0xcc, 0xd0:
		return w.copyBytes(1)
	case 0xcd, 0xd1:
		return w.copyBytes(2)
	case 0xca, 0xce, 0xd2:
		return w.copyBytes(4)
	case 0xcb, 0xcf, 0xd3:
		return w.copyBytes(8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16, after a type byte
		return w.copyBytes(1 + int64(1)<<(b-0xd4))
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		n, err := w.copyLength(1 << (b - 0xc7))
		if err != nil {
			return err
		}
		return w.copyBytes(n + 1)
	case 0xdc:
		n, err := w.copyLength(2)
		if err != nil {
			return err
		}
		return w.copyArray(depth, path, int(n))
	case 0xdd:
		n, err := w.copyLength(4)
		if err != nil {
			return err
		}
		return w.copyArray(depth, path, int(n))
	case 0xde:
		n, err := w.copyLength(2)
		if err != nil {
			return err
		}
		return w.copyMap(depth, path, int(n))
	case 0xdf:
		n, err := w.copyLength(4)
		if err != nil {
			return err
		}
		return w.copyMap(depth, path, int(n))
	}
	return fmt.Errorf("byte 0x%02x does not start a msgpack value", b)
}

func (w *summaryWriter) copyLength(size int) (int64, error) {
	var buf [4]byte
	if _, err := io.ReadFull(w.r, buf[:size]); err != nil {
		return 0, err
	}
	w.Write(buf[:size])
	switch size {
	case 1:
		return int64(buf[0]), nil
	case 2:
		return int64(binary.BigEndian.Uint16(buf[:2])), nil
	}
	return int64(binary.BigEndian.Uint32(buf[:4])), nil
}

func (w *summaryWriter) copyBytes(n int64) error {
	_, err := io.CopyN(w, w.r, n)
	return err
}

func (w *summaryWriter) copyArray(depth int, path string, n int) error {
	for i := 0; i < n; i++ {
		if err := w.copyValue(depth+1, path+"[]"); err != nil {
			return err
		}
	}
	return nil
}

// copyMap copies n key-value pairs. Under path "training", the value of "replay" is
// skipped and written as nil.
func (w *summaryWriter) copyMap(depth int, path string, n int) error {
	for i := 0; i < n; i++ {
		start := w.out.Len()
		if err := w.copyValue(depth+1, path+".key"); err != nil {
			return err
		}
		key := ""
		if !w.skipping {
			key = decodedKey(w.out.Bytes()[start:])
		}
		if path == "training" && key == "replay" && !w.skipping {
			w.skipping = true
			err := w.copyValue(depth+1, "skip")
			w.skipping = false
			if err != nil {
				return err
			}
			w.out.WriteByte(0xc0)
			continue
		}
		child := key
		if path != "" {
			child = path + "." + key
		}
		if err := w.copyValue(depth+1, child); err != nil {
			return err
		}
	}
	return nil
}

// decodedKey returns the string that the encoded key b holds, or "" when it is no fixstr
// or str 8.
func decodedKey(b []byte) string {
	switch {
	case len(b) > 0 && b[0] >= 0xa0 && b[0] <= 0xbf:
		return string(b[1:])
	case len(b) > 1 && b[0] == 0xd9:
		return string(b[2:])
	}
	return ""
}
