package pipeline

import "runtime"

// lockThread wires the calling goroutine to its OS thread for the rest of
// its life, so that CPU affinity set on the thread applies to it. The
// thread ends with the goroutine (LockOSThread without Unlock).
func lockThread() { runtime.LockOSThread() }
