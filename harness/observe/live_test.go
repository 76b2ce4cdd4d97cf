package observe

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/tasks"
)

func TestLiveShowsRunTaskAndRates(t *testing.T) {
	var out bytes.Buffer
	live := NewLive(&out, false)
	cat := methods.Catalog{backprop.Method}
	specs, err := harness.Sweep{Methods: []harness.MethodChoice{{Name: "backprop", Settings: []byte(`{"hidden":[16],"iterations":400,"batch_size":8}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"task"},
		Seeds: 2, FirstSeed: 1, InferenceRuns: 1}.Expand(cat, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	rn := &harness.Runner{Methods: cat, Load: harnesstest.Load, Observers: []harness.RunObserver{live, &during{f: func() { time.Sleep(300 * time.Millisecond) }}}}
	rep, err := rn.RunAll(context.Background(), specs, nil)
	live.Wait()
	if err != nil || rep.Ran != 2 {
		t.Fatalf("%+v, %v", rep, err)
	}
	s := out.String()
	for _, want := range []string{"run 1/2 backprop", "run 2/2 backprop", "task 1/2 epoch", "examples/s", "steps", "after task 2", "done in"} {
		if !strings.Contains(s, want) {
			t.Errorf("the display never showed %q:\n%s", want, s)
		}
	}
}
