package methods

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// decodeError turns encoding/json's messages into the project's words.
func decodeError(err error, dst any) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Errorf("settings: want a JSON object of name: value, got a JSON %s", te.Value)
		}
		name := te.Field[strings.LastIndex(te.Field, ".")+1:]
		if num, ok := strings.CutPrefix(te.Value, "number "); ok {
			// A number the type cannot hold.
			switch te.Type.Kind() {
			case reflect.Float32, reflect.Float64:
				return &SettingError{Name: name, Value: num, Msg: "is too large: settings are used as 32-bit floats, up to 3.4e38"}
			case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
				return &SettingError{Name: name, Value: num, Msg: "must be a whole number in range"}
			}
		}
		return &SettingError{Name: name, Msg: fmt.Sprintf("got a JSON %s, want %s", te.Value, typeWords(te.Type))}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("settings: not valid JSON at byte %d: %v", se.Offset, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("settings: not valid JSON: it ends too early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		known := settingNames(dst)
		msg := fmt.Sprintf("unknown setting %q", name)
		if near := nearest(name, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		return errors.New(msg)
	}
	return fmt.Errorf("settings: %w", err)
}

// typeWords names a Go type as a user of the settings sees it.
func typeWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		w := typeWords(t.Elem())
		w = strings.TrimPrefix(strings.TrimPrefix(w, "a "), "an ")
		return "a list of " + w + "s"
	}
	return t.String()
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "int"
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "uint"
	case reflect.Float64, reflect.Float32:
		return "float"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Slice:
		return "[" + typeName(t.Elem()) + "]"
	}
	return t.String()
}

// nearest returns the name among known closest to s, if it is close enough
// to be a likely typo (edit distance at most 2, or a prefix-free misspelling
// of a short name); otherwise "".
func nearest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
