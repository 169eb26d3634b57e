package redlock

import (
	"embed"

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
	src, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic("redlock: missing embedded script " + name)
	}
	return &script{name: name, lua: rueidis.NewLuaScript(string(src))}
}

var (
	acquireScript = loadScript("acquire")
	commitScript  = loadScript("commit")
	extendScript  = loadScript("extend")
	releaseScript = loadScript("release")
	inspectScript = loadScript("inspect")
	reseedScript  = loadScript("reseed")
	forceScript   = loadScript("force_release")

	semAcquireScript = loadSemScript("sem_acquire")
	semCommitScript  = loadSemScript("sem_commit")
	semExtendScript  = loadSemScript("sem_extend")
	semReleaseScript = loadSemScript("sem_release")
	semInspectScript = loadSemScript("sem_inspect")
	semReseedScript  = loadSemScript("sem_reseed")
)
