package noprop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// TestMNIST trains NoProp-DT on the real MNIST (pixels in [0, 1], no other
// normalisation) and reports the test accuracy of the full inference chain
// after every epoch. It is skipped unless NOPROP_MNIST names the encoder:
//
//	NOPROP_MNIST=mlp NOPROP_MNIST_EPOCHS=10 go test -run TestMNIST -v -timeout 0 ./methods/noprop/
//
// NOPROP_MNIST_SETTINGS may add a JSON object of further settings (it is
// applied over the encoder and the epochs).
func TestMNIST(t *testing.T) {
	enc := os.Getenv("NOPROP_MNIST")
	if enc == "" {
		t.Skip("set NOPROP_MNIST=mlp or conv to train on MNIST")
	}
	epochs := 1
	if v := os.Getenv("NOPROP_MNIST_EPOCHS"); v != "" {
		var err error
		if epochs, err = strconv.Atoi(v); err != nil {
			t.Fatalf("NOPROP_MNIST_EPOCHS: %v", err)
		}
	}
	ds, err := tasks.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]any{}
	if v := os.Getenv("NOPROP_MNIST_SETTINGS"); v != "" {
		if err := json.Unmarshal([]byte(v), &settings); err != nil {
			t.Fatalf("NOPROP_MNIST_SETTINGS: %v", err)
		}
	}
	settings["encoder"] = enc
	settings["epochs"] = epochs
	raw, _ := json.Marshal(settings)
	lr, err := New(methods.Problem{Input: ds.Train.Shape, Outputs: ds.NumClasses, Seed: 1, Train: ds.Train}, raw)
	if err != nil {
		t.Fatal(err)
	}
	l := lr.(*Learner)
	t.Logf("settings %s; %d parameters", raw, l.NumParams())
	x := setMatrix(ds.Test)
	var epochSeconds float64
	last := fmt.Sprintf("block %d", l.s.Timesteps)
	obs := methods.ObserverFunc(func(s methods.EpochStats) {
		epochSeconds += s.Seconds
		t.Logf("epoch %d %-8s loss %.4f head acc %.2f%% %.1fs", s.Epoch, s.Part, s.Loss, s.TrainAcc, s.Seconds)
		if s.Part == last || s.Part == "" {
			start := time.Now()
			acc := accuracy(l.Scores(x), ds.Test.Y, nil)
			t.Logf("epoch %d: test accuracy %.2f%% (training %.1fs, evaluation %.1fs)", s.Epoch, acc, epochSeconds, time.Since(start).Seconds())
			fmt.Printf("MNIST %s epoch %d: test %.2f%% train-time %.1fs\n", enc, s.Epoch, acc, epochSeconds)
			epochSeconds = 0
		}
	})
	if err := l.Learn(context.Background(), ds.Train, allOutputs(ds.NumClasses), obs); err != nil {
		t.Fatal(err)
	}
}
