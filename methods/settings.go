package methods

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// A rule's settings are a plain struct with one field per setting. The field
// tags say everything a user and the validator need:
//
//	json:"lr"            the setting's name (lower_snake_case)
//	help:"..."           its meaning, one line (printed by `noprop methods NAME`)
//	range:"(0,)"         allowed numbers, an interval: ( or [ , lower , upper , ) or ];
//	                     an empty bound is unbounded; for lists, every element
//	enum:"adam|adamw"    allowed strings
//	identity:"runtime"   the setting does not change a run's results (a
//	                     worker count, a buffer, a batch size of scoring, a
//	                     guard): it is left out of the run's identity, so
//	                     changing it does not split a configuration
//	identity:"default"   the setting was added after runs were stored, its
//	                     default keeping the old behaviour: it is left out of
//	                     the identity while at its default, so old runs keep
//	                     their configuration hash
//
// Floats must be finite whether or not they have a range. Blocks of settings
// that several rules share (Training, Optim, ...) are embedded structs; their
// fields are promoted into the same JSON object. A block may check relations
// between its fields with a CheckBlock method; a rule's settings type may do
// so for all of its fields with Validate.

// Validator is implemented by a settings type that checks relations between
// its fields, beyond what the tags say.
type Validator interface{ Validate() error }

// BlockChecker is implemented by an embeddable block of settings that checks
// relations between its own fields. It is a different method from Validate so
// that a rule embedding several blocks still gets every block's check.
type BlockChecker interface{ CheckBlock() error }

// DecodeSettings decodes a JSON object of settings into dst, a pointer to a
// settings struct holding the defaults, and checks the result (see
// CheckSettings). Fields not named in raw keep their defaults; a name dst
// does not have is an error, so a typo never passes silently. Messages name
// the setting in the project's words ("setting lr = -1: must be > 0").
func DecodeSettings(raw json.RawMessage, dst any) error {
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return decodeError(err, dst)
		}
		if _, err := dec.Token(); err != io.EOF {
			return errors.New("settings: trailing data after the JSON object")
		}
	}
	return CheckSettings(dst)
}

// CheckSettings checks every field of a settings struct (or a pointer to
// one) against its tags, then every embedded block's CheckBlock and the
// struct's own Validate.
func CheckSettings(s any) error {
	v := reflect.Indirect(reflect.ValueOf(s))
	if v.Kind() != reflect.Struct {
		return fmt.Errorf("settings: %T is not a struct", s)
	}
	if err := checkStruct(v); err != nil {
		return err
	}
	if val, ok := s.(Validator); ok {
		return val.Validate()
	}
	if v.CanAddr() {
		if val, ok := v.Addr().Interface().(Validator); ok {
			return val.Validate()
		}
	}
	return nil
}

func checkStruct(v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && !f.IsExported() {
			// encoding/json would promote its fields, but they could not be
			// checked or documented.
			panic(fmt.Sprintf("methods: settings block %s embedded in %s must be exported", f.Type, t))
		}
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if err := checkStruct(fv); err != nil {
				return err
			}
			if bc, ok := fv.Interface().(BlockChecker); ok {
				if err := bc.CheckBlock(); err != nil {
					return err
				}
			}
			continue
		}
		if err := checkField(f, fv); err != nil {
			return err
		}
	}
	return nil
}

// SettingError is a setting whose value is not allowed.
type SettingError struct {
	Name  string // JSON name
	Value string // the value as JSON; empty when the problem is not the value
	Msg   string // what is wrong, e.g. "must be > 0"
}

func (e *SettingError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("setting %s: %s", e.Name, e.Msg)
	}
	return fmt.Sprintf("setting %s = %s: %s", e.Name, e.Value, e.Msg)
}

// Invalid returns a SettingError for the named setting with value v.
func Invalid(name string, v any, format string, args ...any) error {
	b, _ := json.Marshal(v)
	return &SettingError{Name: name, Value: string(b), Msg: fmt.Sprintf(format, args...)}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func checkField(f reflect.StructField, v reflect.Value) error {
	name := jsonName(f)
	if name == "-" {
		return nil
	}
	var rng *interval
	if r := f.Tag.Get("range"); r != "" {
		iv, err := parseInterval(r)
		if err != nil {
			panic(fmt.Sprintf("methods: setting %s: bad range tag %q: %v", name, r, err))
		}
		rng = &iv
	}
	checkNumber := func(x float64, isFloat bool) string {
		if isFloat && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return "must be a finite number"
		}
		// Settings are used in 32-bit floats: a value that would overflow
		// or vanish there is refused here, before any work.
		if isFloat && math.Abs(x) > math.MaxFloat32 {
			return "is too large: settings are used as 32-bit floats, up to 3.4e38"
		}
		if isFloat && x != 0 && float32(x) == 0 {
			return "is too small: settings are used as 32-bit floats, down to 1.4e-45"
		}
		if rng != nil && !rng.contains(x) {
			return "must be " + rng.describe(!isFloat)
		}
		return ""
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		if msg := checkNumber(float64(v.Int()), false); msg != "" {
			return Invalid(name, v.Interface(), "%s", msg)
		}
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		if msg := checkNumber(float64(v.Uint()), false); msg != "" {
			return Invalid(name, v.Interface(), "%s", msg)
		}
	case reflect.Float64, reflect.Float32:
		if msg := checkNumber(v.Float(), true); msg != "" {
			// NaN and Inf do not marshal to JSON: name them in words.
			return &SettingError{Name: name, Value: strconv.FormatFloat(v.Float(), 'g', -1, 64), Msg: msg}
		}
	case reflect.String:
		if e := f.Tag.Get("enum"); e != "" {
			allowed := strings.Split(e, "|")
			if !slices.Contains(allowed, v.String()) {
				return Invalid(name, v.String(), "must be one of %s", strings.Join(allowed, ", "))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			ev := v.Index(i)
			var msg string
			switch ev.Kind() {
			case reflect.Int, reflect.Int64, reflect.Int32:
				msg = checkNumber(float64(ev.Int()), false)
			case reflect.Float64, reflect.Float32:
				msg = checkNumber(ev.Float(), true)
			}
			if msg != "" {
				return Invalid(name, v.Interface(), "element %d %s", i+1, msg)
			}
		}
	}
	return nil
}

// interval is a parsed range tag.
type interval struct {
	lo, hi         float64
	hasLo, hasHi   bool
	openLo, openHi bool
}

func parseInterval(s string) (interval, error) {
	var iv interval
	if len(s) < 3 || !strings.ContainsRune("([", rune(s[0])) || !strings.ContainsRune(")]", rune(s[len(s)-1])) {
		return iv, errors.New("want (lo,hi), [lo,hi], (lo,) ...")
	}
	iv.openLo, iv.openHi = s[0] == '(', s[len(s)-1] == ')'
	lo, hi, ok := strings.Cut(s[1:len(s)-1], ",")
	if !ok {
		return iv, errors.New("missing comma")
	}
	var err error
	if lo = strings.TrimSpace(lo); lo != "" {
		iv.hasLo = true
		if iv.lo, err = strconv.ParseFloat(lo, 64); err != nil {
			return iv, err
		}
	}
	if hi = strings.TrimSpace(hi); hi != "" {
		iv.hasHi = true
		if iv.hi, err = strconv.ParseFloat(hi, 64); err != nil {
			return iv, err
		}
	}
	return iv, nil
}

func (iv interval) contains(x float64) bool {
	if iv.hasLo && (x < iv.lo || (iv.openLo && x == iv.lo)) {
		return false
	}
	if iv.hasHi && (x > iv.hi || (iv.openHi && x == iv.hi)) {
		return false
	}
	return true
}

// describe says the interval in words: "> 0", "at least 1", "in [0, 1)".
func (iv interval) describe(integer bool) string {
	num := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	switch {
	case iv.hasLo && iv.hasHi:
		l, r := "[", "]"
		if iv.openLo {
			l = "("
		}
		if iv.openHi {
			r = ")"
		}
		return fmt.Sprintf("in %s%s, %s%s", l, num(iv.lo), num(iv.hi), r)
	case iv.hasLo && iv.openLo:
		return "> " + num(iv.lo)
	case iv.hasLo && integer:
		return "at least " + num(iv.lo)
	case iv.hasLo:
		return "≥ " + num(iv.lo)
	case iv.hasHi && iv.openHi:
		return "< " + num(iv.hi)
	case iv.hasHi:
		return "at most " + num(iv.hi)
	}
	return "any number"
}

// Narrower is implemented by a settings type whose Validate allows fewer
// values of some settings than their tags say (NoProp's minibatches need two
// examples for BatchNorm): it names them in words, for the documentation.
type Narrower interface {
	Narrowed() map[string]string
}

// Field documents one setting.
type Field struct {
	Name    string // JSON name
	Type    string // int, float, string, bool, [int], ...
	Default string // the default as JSON
	Allowed string // the allowed values in words; empty when any value of the type is
	Help    string // one line
	// Identity is the identity tag: "runtime", "default" or "".
	Identity string
}

// Fields documents every setting of a settings struct (or a pointer to one)
// holding the defaults, in declaration order, embedded blocks in place.
func Fields(s any) []Field {
	var out []Field
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(v.Field(i))
				continue
			}
			name := jsonName(f)
			if name == "-" {
				continue
			}
			def, _ := json.Marshal(v.Field(i).Interface())
			fd := Field{Name: name, Type: typeName(f.Type), Default: string(def), Help: f.Tag.Get("help"), Identity: f.Tag.Get("identity")}
			if f.Type.Kind() == reflect.Bool {
				fd.Allowed = "true, false"
			}
			if e := f.Tag.Get("enum"); e != "" {
				fd.Allowed = strings.Join(strings.Split(e, "|"), ", ")
			}
			if r := f.Tag.Get("range"); r != "" {
				iv, err := parseInterval(r)
				if err == nil {
					integer := f.Type.Kind() != reflect.Float64 && f.Type.Kind() != reflect.Float32
					if f.Type.Kind() == reflect.Slice {
						integer = f.Type.Elem().Kind() != reflect.Float64
					}
					fd.Allowed = iv.describe(integer)
				}
			}
			out = append(out, fd)
		}
	}
	walk(reflect.Indirect(reflect.ValueOf(s)))
	if n, ok := s.(Narrower); ok {
		narrowed := n.Narrowed()
		for i, f := range out {
			if a, ok := narrowed[f.Name]; ok {
				out[i].Allowed = a
			}
		}
	}
	return out
}

func settingNames(s any) []string {
	var names []string
	for _, f := range Fields(s) {
		names = append(names, f.Name)
	}
	return names
}

// MergeSettings overlays JSON objects left to right (later keys win, one level
// deep) and returns the merged object. Empty layers are skipped.
func MergeSettings(layers ...json.RawMessage) (json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for i, l := range layers {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(l, &m); err != nil {
			return nil, fmt.Errorf("settings layer %d: want a JSON object: %w", i+1, err)
		}
		maps.Copy(out, m)
	}
	return json.Marshal(out)
}

// Identity returns the part of a rule's complete settings (a JSON object)
// that makes a run what it is, for its configuration hash: every setting
// but those tagged identity:"runtime", and those tagged identity:"default"
// only when they differ from the default. Keys are sorted (encoding/json
// sorts map keys), so equal identities are equal bytes.
func (m Method) Identity(settings json.RawMessage) (json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(settings, &all); err != nil {
		return nil, fmt.Errorf("%s settings: %w", m.Name, err)
	}
	for _, f := range Fields(m.Settings()) {
		v, ok := all[f.Name]
		if !ok {
			continue
		}
		switch f.Identity {
		case "runtime":
			delete(all, f.Name)
		case "default":
			if sameJSON(v, json.RawMessage(f.Default)) {
				delete(all, f.Name)
			}
		}
	}
	return json.Marshal(all)
}

// sameJSON reports whether two JSON values are equal as values.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
