module github.com/lockd/lockd

go 1.26.8
