package waitq

import "testing"

func TestLines(t *testing.T) {
	var l Lines
	a, b, c := l.Join("x"), l.Join("x"), l.Join("x")
	if !a.Head() || b.Head() || c.Head() {
		t.Fatalf("heads: a %v b %v c %v, want a only", a.Head(), b.Head(), c.Head())
	}
	if n := l.Len("x"); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	// A waiter that is not the head leaves: the head stays.
	l.Leave("x", b, false)
	if c.Head() {
		t.Error("c became the head when b, behind a, left")
	}
	woken := l.Woken("x")
	l.Released("x")
	select {
	case <-woken:
	default:
		t.Error("Woken channel still open after Released")
	}
	if l.Woken("x") == woken {
		t.Error("Woken returned the closed channel again")
	}
	l.Leave("x", a, true)
	after, released := c.AfterGrant()
	if !c.Head() || !after {
		t.Errorf("c: head %v, after a grant %v; want both once a left with the lock", c.Head(), after)
	}
	l.Released("x")
	select {
	case <-released:
	default:
		t.Error("AfterGrant's channel still open after the next release")
	}
	l.Leave("x", c, false)
	if n := l.Len("x"); n != 0 || l.Woken("x") != nil {
		t.Errorf("Len = %d after everyone left, want 0 and the line forgotten", n)
	}
	l.Released("nobody") // no line: nothing to do
	l.Leave("nobody", a, false)
	d := l.Join("y")
	woken = l.Woken("y")
	l.WakeAll()
	select {
	case <-woken:
	default:
		t.Error("WakeAll left a line's wake channel open")
	}
	l.Leave("y", d, false)
}
