package main

import (
	"os"

	"github.com/lockd/lockd/internal/redisproc"
)

// redisServer is one redis-server process and the directory it runs in.
type redisServer struct {
	*redisproc.Process
	dir string
}

// startRedis starts n redis-server processes from the binary at bin, each
// on its own free 127.0.0.1 port with persistence off. On error the ones
// already started are stopped.
func startRedis(bin string, n int) ([]*redisServer, error) {
	var out []*redisServer
	for range n {
		var (
			r   *redisServer
			err error
		)
		for range 5 { // a probed port may be taken before redis binds it
			if r, err = startOneRedis(bin); err == nil {
				break
			}
		}
		if err != nil {
			stopRedis(out)
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func startOneRedis(bin string) (*redisServer, error) {
	port, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lockbench-redis-")
	if err != nil {
		return nil, err
	}
	p, err := redisproc.Start(bin, dir, port)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &redisServer{Process: p, dir: dir}, nil
}

// stop kills the process, waits for it and removes its directory.
func (r *redisServer) stop() {
	r.Kill()
	_ = os.RemoveAll(r.dir)
}

func stopRedis(servers []*redisServer) {
	for _, r := range servers {
		r.stop()
	}
}

func redisAddrs(servers []*redisServer) []string {
	out := make([]string, len(servers))
	for i, r := range servers {
		out[i] = r.Addr
	}
	return out
}
