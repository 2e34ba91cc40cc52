package detector

import (
	"os"
	"path/filepath"
	"time"
)

// modelTempPattern names the temporary files Save writes before renaming
// one over the model file.
const modelTempPattern = ".model-*"

// staleTempAge is how old a temporary model file must be to be another
// process's leftover: Save renames its file within seconds.
const staleTempAge = time.Minute

// RemoveStaleTemps deletes the temporary files that a save killed midway
// (SIGKILL, power loss) left beside the model file at path, and returns
// the ones it removed.
func RemoveStaleTemps(path string, now time.Time) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), modelTempPattern))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, m := range matches {
		st, err := os.Lstat(m)
		if err != nil || !st.Mode().IsRegular() || now.Sub(st.ModTime()) < staleTempAge {
			continue
		}
		if err := os.Remove(m); err != nil {
			return removed, err
		}
		removed = append(removed, m)
	}
	return removed, nil
}
