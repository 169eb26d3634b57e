package redlock

import (
	"embed"
	"strings"

	"github.com/redis/rueidis"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// script is one embedded Lua script.
type script struct {
	name string
	lua  *rueidis.Lua
}

func loadScript(name string) *script {
	return &script{name: name, lua: rueidis.NewLuaScript(scriptSource(name))}
}

// includePrefix starts a line that scriptSource replaces with the named
// script's source: handoff.lua runs release.lua and acquire.lua as local
// functions, so the three never drift apart, and the scripts that need the
// node's clock or prune expired readers include readers.lua, which defines
// both once.
const includePrefix = "--#include "

// scriptSource returns the embedded script name, with its include lines
// replaced.
func scriptSource(name string) string {
	src, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic("redlock: missing embedded script " + name)
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if inc, ok := strings.CutPrefix(l, includePrefix); ok {
			lines[i] = scriptSource(strings.TrimSpace(inc))
		}
	}
	return strings.Join(lines, "\n")
}

var (
	acquireScript = loadScript("acquire")
	commitScript  = loadScript("commit")
	extendScript  = loadScript("extend")
	releaseScript = loadScript("release")
	inspectScript = loadScript("inspect")
	reseedScript  = loadScript("reseed")
	forceScript   = loadScript("force_release")
	handoffScript = loadScript("handoff")

	semAcquireScript = loadSemScript("sem_acquire")
	semCommitScript  = loadSemScript("sem_commit")
	semExtendScript  = loadSemScript("sem_extend")
	semReleaseScript = loadSemScript("sem_release")
	semInspectScript = loadSemScript("sem_inspect")
	semReseedScript  = loadSemScript("sem_reseed")
)
