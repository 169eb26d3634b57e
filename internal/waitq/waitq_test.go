package waitq

import (
	"testing"
	"time"
)

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

func TestOffers(t *testing.T) {
	var l Lines
	a, b := l.Join("x"), l.Join("x")
	// b's offer waits behind the head: it is not taken.
	ob := l.Offer("x", b, 2)
	if ob == nil || l.Offered("x") {
		t.Fatalf("Offer of the second in line = %v, standing %v; want kept, not standing", ob, l.Offered("x"))
	}
	if l.Take("x") != nil || l.Take("nobody") != nil {
		t.Error("Take found an offer where none stands")
	}
	if l.Offer("x", &Waiter{}, 0) != nil {
		t.Error("a waiter not in the line could leave an offer")
	}
	// Withdrawn before any release: not taken, and gone from the line.
	o := l.Offer("x", a, 1)
	if o == nil || o.Attempt() != 1 || !l.Offered("x") {
		t.Fatalf("head's Offer = %v, standing %v", o, l.Offered("x"))
	}
	if l.Withdraw("x", o) {
		t.Error("Withdraw reported an offer nobody took as taken")
	}
	if l.Take("x") != nil || l.Offered("x") {
		t.Error("Take found a withdrawn offer")
	}
	// Taken: the head learns it, and waits for Done.
	o = l.Offer("x", a, 3)
	got := l.Take("x")
	if got != o || got.Attempt() != 3 {
		t.Fatalf("Take = %v, want the head's offer", got)
	}
	select {
	case <-o.Taken():
	default:
		t.Error("Taken still open after Take")
	}
	if l.Take("x") != nil {
		t.Error("one offer was taken twice")
	}
	withdrawn := make(chan bool)
	go func() { withdrawn <- l.Withdraw("x", o) }()
	select {
	case <-withdrawn:
		t.Fatal("Withdraw of a taken offer returned before Done")
	case <-time.After(20 * time.Millisecond):
	}
	got.Done("ran")
	if taken := <-withdrawn; !taken || o.Result() != "ran" {
		t.Errorf("Withdraw of a taken offer: taken %v, result %v; want true, ran", taken, o.Result())
	}
	if l.Withdraw("x", nil) {
		t.Error("Withdraw(nil) reported true")
	}
	// A head that leaves takes its offer with it, and b's offer, made
	// while it waited behind, stands the moment b is the head.
	l.Offer("x", a, 4)
	l.Leave("x", a, true)
	if got := l.Take("x"); got != ob {
		t.Errorf("Take after the head left = %v, want b's offer %v", got, ob)
	}
	ob.Done(nil)
	if !l.Withdraw("x", ob) {
		t.Error("b's taken offer withdrawn as not taken")
	}
	l.Offer("x", b, 5)
	l.Leave("x", b, false)
	if l.Take("x") != nil {
		t.Error("the offer of a head that left was still taken")
	}
}

func TestHolder(t *testing.T) {
	var l Lines
	if o, e := l.Holder("x"); o != "" || !e.IsZero() {
		t.Errorf("Holder with no line = %q, %v", o, e)
	}
	w := l.Join("x")
	at := time.Unix(100, 0)
	l.SetHolder("x", "a", at)
	if o, e := l.Holder("x"); o != "a" || !e.Equal(at) {
		t.Errorf("Holder = %q, %v; want a, %v", o, e, at)
	}
	l.Leave("x", w, false)
	l.SetHolder("x", "b", at) // no line: nothing kept
	if o, _ := l.Holder("x"); o != "" {
		t.Errorf("Holder after the line emptied = %q, want it forgotten", o)
	}
}
