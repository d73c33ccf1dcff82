package stackops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// The compose-model cache stores compose-go's types.Project as it is in
// memory. Neither JSON nor gob can: compose-go's types skip fields in JSON
// (json:"-" on the environment, the working directory, the disabled
// services …) and marshal others one way only, and gob refuses the nil
// pointers its maps hold (`networks: {default: null}`). modelCodec writes
// every exported field by reflection, in declaration order (unexported ones
// must be zero, and are left zero), with nil and
// empty kept apart, so a decoded value is reflect.DeepEqual to the encoded
// one — and the cache checks that before storing anything. Both sides are
// the same binary (the cache key holds the compose-go version and
// stackpilot's build), so no field names or types are written.

var errModelCodec = errors.New("model codec: unsupported value")

// interface values the codec knows: what YAML decoding puts in x- blocks.
var codecIfaceTypes = []reflect.Type{
	reflect.TypeFor[string](), reflect.TypeFor[bool](), reflect.TypeFor[int](), reflect.TypeFor[int64](),
	reflect.TypeFor[uint64](), reflect.TypeFor[float64](), reflect.TypeFor[map[string]any](), reflect.TypeFor[[]any](),
	reflect.TypeFor[map[any]any](),
}

type modelEncoder struct{ buf []byte }

func (e *modelEncoder) uvarint(u uint64) { e.buf = binary.AppendUvarint(e.buf, u) }
func (e *modelEncoder) flag(b bool) {
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

func (e *modelEncoder) encode(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Bool:
		e.flag(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = binary.AppendVarint(e.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uvarint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v.Float()))
	case reflect.String:
		e.uvarint(uint64(v.Len()))
		e.buf = append(e.buf, v.String()...)
	case reflect.Pointer:
		e.flag(!v.IsNil())
		if !v.IsNil() {
			return e.encode(v.Elem())
		}
	case reflect.Slice:
		e.flag(!v.IsNil())
		if v.IsNil() {
			return nil
		}
		fallthrough
	case reflect.Array:
		e.uvarint(uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			if err := e.encode(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		e.flag(!v.IsNil())
		if v.IsNil() {
			return nil
		}
		e.uvarint(uint64(v.Len()))
		it := v.MapRange()
		for it.Next() {
			if err := e.encode(it.Key()); err != nil {
				return err
			}
			if err := e.encode(it.Value()); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				// compose-go's only ones are marshalling switches, zero in
				// a loaded model: skipped, and left zero when decoding.
				if !v.Field(i).IsZero() {
					return fmt.Errorf("%w: unexported field %s.%s is set", errModelCodec, t, t.Field(i).Name)
				}
				continue
			}
			if err := e.encode(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Interface:
		if v.IsNil() {
			e.uvarint(0)
			return nil
		}
		inner := v.Elem()
		for i, t := range codecIfaceTypes {
			if inner.Type() == t {
				e.uvarint(uint64(i + 1))
				return e.encode(inner)
			}
		}
		return fmt.Errorf("%w: %s in an interface", errModelCodec, inner.Type())
	default:
		return fmt.Errorf("%w: %s", errModelCodec, v.Type())
	}
	return nil
}

type modelDecoder struct {
	buf []byte
	err error
}

func (d *modelDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("model codec: truncated or corrupt data (%s)", what)
	}
}

func (d *modelDecoder) uvarint() uint64 {
	u, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return u
}

func (d *modelDecoder) flag() bool {
	if len(d.buf) == 0 {
		d.fail("flag")
		return false
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b == 1
}

// length reads a count and checks that at least that many bytes remain
// (every element takes one), so a corrupt count cannot allocate wildly.
func (d *modelDecoder) length() int {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("length")
		return 0
	}
	return int(n)
}

func (d *modelDecoder) decode(v reflect.Value) {
	if d.err != nil {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(d.flag())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, n := binary.Varint(d.buf)
		if n <= 0 {
			d.fail("varint")
			return
		}
		d.buf = d.buf[n:]
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(d.uvarint())
	case reflect.Float32, reflect.Float64:
		if len(d.buf) < 8 {
			d.fail("float")
			return
		}
		v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(d.buf)))
		d.buf = d.buf[8:]
	case reflect.String:
		n := d.length()
		if d.err == nil {
			v.SetString(string(d.buf[:n]))
			d.buf = d.buf[n:]
		}
	case reflect.Pointer:
		if d.flag() {
			p := reflect.New(v.Type().Elem())
			d.decode(p.Elem())
			v.Set(p)
		}
	case reflect.Slice:
		if !d.flag() {
			return
		}
		n := d.length()
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n && d.err == nil; i++ {
			d.decode(s.Index(i))
		}
		v.Set(s)
	case reflect.Array:
		if n := d.length(); n != v.Len() {
			d.fail("array length")
			return
		}
		for i := 0; i < v.Len() && d.err == nil; i++ {
			d.decode(v.Index(i))
		}
	case reflect.Map:
		if !d.flag() {
			return
		}
		n := d.length()
		m := reflect.MakeMapWithSize(v.Type(), n)
		kt, vt := v.Type().Key(), v.Type().Elem()
		for i := 0; i < n && d.err == nil; i++ {
			k, val := reflect.New(kt).Elem(), reflect.New(vt).Elem()
			d.decode(k)
			d.decode(val)
			m.SetMapIndex(k, val)
		}
		v.Set(m)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField() && d.err == nil; i++ {
			if t.Field(i).IsExported() {
				d.decode(v.Field(i))
			}
		}
	case reflect.Interface:
		tag := d.uvarint()
		switch {
		case tag == 0:
		case tag > uint64(len(codecIfaceTypes)):
			d.fail("interface type")
		default:
			inner := reflect.New(codecIfaceTypes[tag-1]).Elem()
			d.decode(inner)
			v.Set(inner)
		}
	default:
		d.fail(v.Type().String())
	}
}

// encodeModel and decodeModel are the codec for one value of type T.
func encodeModel[T any](v *T) ([]byte, error) {
	e := &modelEncoder{}
	if err := e.encode(reflect.ValueOf(v).Elem()); err != nil {
		return nil, err
	}
	return e.buf, nil
}

func decodeModel[T any](b []byte) (*T, error) {
	v := new(T)
	d := &modelDecoder{buf: b}
	d.decode(reflect.ValueOf(v).Elem())
	if d.err == nil && len(d.buf) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return v, nil
}
