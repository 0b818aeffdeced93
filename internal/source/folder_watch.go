package source

import (
	"context"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// settle is how long the folder must be quiet before it is read again: an
// editor's save or a ConfigMap volume's symlink swap is several events.
const settle = 100 * time.Millisecond

// FolderSource keeps a policy.Holder in step with a manifests folder.
type FolderSource struct {
	Dir     string
	Folder  *Folder
	Builder *Builder
	Holder  *policy.Holder
	Log     logr.Logger
	// ReloadErrors, when set, counts changes that could not be loaded.
	ReloadErrors prometheus.Counter
}

// Load reads the folder and publishes a new snapshot. On any error the
// current snapshot stays published and the error is returned.
func (s *FolderSource) Load() error {
	objs, err := s.Folder.Read(s.Dir)
	if err != nil {
		return err
	}
	_, err = s.Builder.Publish(objs, s.Holder, s.Log)
	return err
}

// Watch reloads the folder after every change until ctx ends. It watches the
// folder, not the files, because edits arrive as atomic renames.
func (s *FolderSource) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(s.Dir); err != nil {
		return err
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.Events:
			timer.Reset(settle)
		case err := <-w.Errors:
			s.Log.Error(err, "watching the manifests folder")
		case <-timer.C:
			if err := s.Load(); err != nil {
				s.Log.Error(err, "manifests folder not loaded; the last good policy stays in force", "dir", s.Dir)
				countError(s.ReloadErrors)
			}
		}
	}
}

func countError(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}
