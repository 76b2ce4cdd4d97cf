package harness

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// A checkpoint is a run's whole state at a moment: the rows of the accuracy
// matrix evaluated so far, the training log of the task under way, and the
// learner's state (methods.Checkpointer), its trainer's position within
// the current Learn call included. A run that starts on a unit with a
// checkpoint (its process was killed, preempted or interrupted) restores the
// learner, records the saved rows as its own and goes on from there; its
// results are those of a run never stopped, bit for bit.
//
// Checkpoints live in one folder beside the results store, one file per
// unit (<config hash>-<seed>.ckpt) and the one before it (.prev), written
// atomically; a run that finishes removes them. A damaged file (its
// checksum fails) is refused with one line and the previous one used, or
// the run starts over.
type checkpoint struct {
	Version int
	// Unit is the run's identity, seed and number of inference runs
	// (unitKey): a checkpoint only resumes the same unit, scored the same
	// way; a learning curve or a speed setting may differ.
	Unit string
	Done int // tasks learned and evaluated; rows 0..Done are in Rows
	Rows []Eval
	Log  []methods.EpochStats // the log of task Done+1 so far
	// Call is the Learn call of task Done+1 under way (0-based; a
	// strategy may learn a task in several calls, see Strategy). Files
	// written before it existed decode it as 0, their one call.
	Call  int
	State []byte // the learner's state, when loaded
}

const checkpointVersion = 3

// A checkpoint file is checkpointMagic, then the payload: the length of the
// gob-encoded checkpoint without its State (a uvarint), that encoding, and
// the learner's state as nn.StateWriter writes it; then the SHA-256 of the
// payload. The state is streamed to the file as it is visited, so saving
// holds no copy of it in memory.
const checkpointMagic = "NPCKPT2\n"

// oldCheckpointMagic starts the files of format 1.
const oldCheckpointMagic = "NPCKPT1\n"

// unitKey is what a checkpoint must have been written for to resume spec.
func unitKey(spec Spec) string {
	return fmt.Sprintf("%s seed %d, %d inference runs", spec.IdentityJSON(), spec.Seed, spec.InferenceRuns)
}

// checkpoints keeps the checkpoints of runs in a folder.
type checkpoints struct {
	dir string
	log io.Writer
}

func (c checkpoints) path(spec Spec) string {
	return checkpointFile(c.dir, spec.ConfigHash(), spec.Seed)
}

// checkpointFile is the checkpoint of the unit (configuration hash, seed)
// in the folder dir.
func checkpointFile(dir, configHash string, seed uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d.ckpt", configHash, seed))
}

// Progress is how far a run had got when it last saved its checkpoint.
type Progress struct {
	Tasks int       // tasks learned and evaluated
	Epoch int       // the last epoch logged of the task under way; 0 before its first
	Part  string    // the part that epoch trained (NoProp's "block 3"), or empty
	Saved time.Time // when the checkpoint was written
}

// ReadProgress reads the progress of the unit (configuration hash and
// seed) from its checkpoint in the folder dir, without reading the
// learner's state or checking the file's checksum: it is for telling
// people how far a long run has got, not for resuming it. ok is false when
// the unit has no checkpoint.
func ReadProgress(dir, configHash string, seed uint64) (p Progress, ok bool, err error) {
	path := checkpointFile(dir, configHash, seed)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Progress{}, false, nil
	}
	if err != nil {
		return Progress{}, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Progress{}, false, err
	}
	r := bufio.NewReader(f)
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		return Progress{}, false, fmt.Errorf("%s: not a checkpoint this program reads", path)
	}
	ck, err := decodeHead(r)
	if err != nil {
		return Progress{}, false, fmt.Errorf("%s: %w", path, err)
	}
	p = Progress{Tasks: ck.Done, Saved: fi.ModTime()}
	if len(ck.Log) > 0 {
		last := ck.Log[len(ck.Log)-1]
		p.Epoch, p.Part = last.Epoch, last.Part
	}
	return p, true, nil
}

// save writes ck with the state of learner atomically as the unit's
// checkpoint, keeping the previous one.
func (c checkpoints) save(spec Spec, ck *checkpoint, learner methods.Checkpointer) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint folder: %w", err)
	}
	var head bytes.Buffer
	meta := *ck
	meta.State = nil
	if err := gob.NewEncoder(&head).Encode(&meta); err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	path := c.path(spec)
	tmp, err := os.CreateTemp(c.dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	_, err = tmp.WriteString(checkpointMagic)
	if err == nil {
		sum := sha256.New()
		out := bufio.NewWriterSize(io.MultiWriter(tmp, sum), 1<<16)
		var n [binary.MaxVarintLen64]byte
		out.Write(n[:binary.PutUvarint(n[:], uint64(head.Len()))])
		out.Write(head.Bytes())
		w := nn.NewStateWriter(out)
		learner.VisitState(w)
		if err = w.Err(); err == nil {
			err = out.Flush()
		}
		if err == nil {
			_, err = tmp.Write(sum.Sum(nil))
		}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write checkpoint %s: %w", tmp.Name(), err)
	}
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+".prev"); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("keep the previous checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	return nil
}

// load returns the unit's newest readable checkpoint of this very spec, or
// nil. A damaged or foreign file is reported to the log in one line and
// skipped.
func (c checkpoints) load(spec Spec) *checkpoint {
	path := c.path(spec)
	for _, p := range []string{path, path + ".prev"} {
		ck, err := readCheckpoint(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil && ck.Unit != unitKey(spec) {
			err = errors.New("it was written for other settings")
		}
		if err != nil {
			if c.log != nil {
				fmt.Fprintf(c.log, "   checkpoint %s refused: %v; trying the one before it, else the run starts over\n", p, err)
			}
			continue
		}
		return ck
	}
	return nil
}

func readCheckpoint(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) >= len(oldCheckpointMagic) && string(b[:len(oldCheckpointMagic)]) == oldCheckpointMagic {
		return nil, errors.New("written in format 1 by an older version of noprop")
	}
	if len(b) < len(checkpointMagic)+sha256.Size || string(b[:len(checkpointMagic)]) != checkpointMagic {
		return nil, errors.New("not a checkpoint file (bad header or too short)")
	}
	payload := b[len(checkpointMagic) : len(b)-sha256.Size]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], b[len(b)-sha256.Size:]) {
		return nil, errors.New("damaged (checksum mismatch)")
	}
	r := bytes.NewReader(payload)
	ck, err := decodeHead(r)
	if err != nil {
		return nil, err
	}
	ck.State = payload[len(payload)-r.Len():]
	return ck, nil
}

// decodeHead decodes a checkpoint's payload up to the learner's state: the
// length of the gob encoding (a uvarint), then the encoding. r is left at
// the state.
func decodeHead(r interface {
	io.Reader
	io.ByteReader
}) (*checkpoint, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<30 {
		return nil, errors.New("damaged: bad header length")
	}
	var ck checkpoint
	if err := gob.NewDecoder(io.LimitReader(r, int64(n))).Decode(&ck); err != nil {
		return nil, fmt.Errorf("damaged: %v", err)
	}
	if ck.Version != checkpointVersion {
		return nil, fmt.Errorf("format version %d, this program reads %d", ck.Version, checkpointVersion)
	}
	return &ck, nil
}

// remove deletes the unit's checkpoints.
func (c checkpoints) remove(spec Spec) {
	path := c.path(spec)
	os.Remove(path)
	os.Remove(path + ".prev")
}

// restoreLearner restores a learner's state.
func restoreLearner(l methods.Checkpointer, state []byte) error {
	r := nn.NewStateReader(state)
	l.VisitState(r)
	return r.Done()
}

// checkpointer is the part of a run that takes its checkpoints: after each
// task and, during one, every CheckpointEvery.
type checkpointer struct {
	store   checkpoints
	spec    Spec
	learner methods.Checkpointer
	tasks   int // tasks of the run's stream
	every   time.Duration
	last    time.Time
	ck      checkpoint
}

// afterTask records row done of the matrix and, when save is set and tasks
// remain to be learned, saves a checkpoint (a run that has learned its last
// task is about to be stored; rows replayed from a checkpoint are in it).
func (c *checkpointer) afterTask(e Eval, save bool) error {
	c.ck.Done = e.AfterTask
	c.ck.Rows = append(c.ck.Rows, e)
	c.ck.Log, c.ck.Call = nil, 0
	if !save || e.AfterTask >= c.tasks {
		return nil
	}
	return c.save()
}

func (c *checkpointer) save() error {
	c.ck.Version, c.ck.Unit = checkpointVersion, unitKey(c.spec)
	c.last = time.Now()
	return c.store.save(c.spec, &c.ck, c.learner)
}

// due reports whether a checkpoint during training is due.
func (c *checkpointer) due() bool { return c.every > 0 && time.Since(c.last) >= c.every }
