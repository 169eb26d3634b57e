package lockctl

// Exit statuses of lockctl. They come from sysexits.h where one fits, so a
// script can tell lockctl's own outcomes from an ordinary failure (1), and
// from the shell's conventions for a command that could not be run. 70 is
// lockctl's own; 71 to 74 are left free for outcomes of commands yet to
// come. run otherwise exits with its command's status.
const (
	// ExitOK means the command did what it was asked.
	ExitOK = 0
	// ExitFailure is any failure without a status of its own: a lease that
	// no longer holds its lock, a lockd without a store, a server error.
	ExitFailure = 1
	// ExitUsage (EX_USAGE) is a bad command line or environment value: an
	// unknown command or flag, a missing argument, a bad --metadata, or a
	// name, owner, TTL or lease lockd would refuse.
	ExitUsage = 64
	// ExitUnavailable (EX_UNAVAILABLE) means lockd could not be asked or
	// could not decide: it was unreachable or did not answer within
	// --timeout, its Redis quorum or its store was unavailable, or it was
	// shutting down. Nothing was granted; trying again later may work.
	ExitUnavailable = 69
	// ExitLost means run's lock (elect's leadership) was lost while its
	// command ran (a renewal was refused, or none succeeded before the
	// lease ran out), or --max-hold passed: the command was stopped
	// (SIGTERM, then SIGKILL after --kill-grace). 70 is EX_SOFTWARE in sysexits.h; lockctl gives
	// it this meaning of its own.
	ExitLost = 70
	// ExitNotObtained (EX_TEMPFAIL) means another lease holds the lock past
	// --wait: the lock was not obtained.
	ExitNotObtained = 75
	// ExitNoPerm (EX_NOPERM) means lockd refused the API key: none or an
	// unknown one was sent (--token), or its role or name prefixes do not
	// allow this.
	ExitNoPerm = 77
	// ExitCannotExecute means run found its command but could not start it
	// (not executable, say), as shells report it.
	ExitCannotExecute = 126
	// ExitNotFound means run did not find its command, as shells report
	// it. The lock was not taken.
	ExitNotFound = 127
	// ExitInterrupted means SIGINT or SIGTERM stopped the command before
	// it finished (128 + SIGINT, as shells report it); for run, any signal
	// it passes on (SIGHUP too) that arrives while it waits for the lock.
	ExitInterrupted = 130
)

// ExitCode is one of lockctl's exit statuses, with what it means.
type ExitCode struct {
	// Code is the status.
	Code int
	// Name is a short name for it, the sysexits.h one where there is one.
	Name string
	// Meaning says when lockctl exits with it.
	Meaning string
}

// ExitCodes returns every exit status lockctl uses, in ascending order,
// for help texts and docs. The slice is the caller's.
func ExitCodes() []ExitCode {
	return []ExitCode{
		{ExitOK, "ok", "done"},
		{ExitFailure, "failure", "any other failure (lease no longer holds the lock, no store, server error)"},
		{ExitUsage, "EX_USAGE", "bad command line or environment value, or an input lockd refuses"},
		{ExitUnavailable, "EX_UNAVAILABLE", "lockd unreachable or too slow, quorum or store unavailable, or shutting down"},
		{ExitLost, "lost", "run, elect: the lock or leadership was lost, or --max-hold passed, while the command ran; the command was stopped"},
		{ExitNotObtained, "EX_TEMPFAIL", "the lock is held by someone else (past --wait); elect: not elected within --wait"},
		{ExitNoPerm, "EX_NOPERM", "lockd refused the API key (--token): missing, unknown, or not allowed this"},
		{ExitCannotExecute, "cannot execute", "run, elect: the command could not be started"},
		{ExitNotFound, "not found", "run, elect: the command was not found"},
		{ExitInterrupted, "interrupted", "stopped by SIGINT or SIGTERM (run, elect: or SIGHUP, while waiting for the lock or leadership)"},
	}
}
