package main

import "testing"

func TestInfoField(t *testing.T) {
	info := "# Stats\r\ntotal_connections_received:4\r\ntotal_commands_processed:1234\r\ninstantaneous_ops_per_sec:0\r\n"
	t.Run("OK", func(t *testing.T) {
		if got, err := infoField(info, "total_commands_processed"); err != nil || got != 1234 {
			t.Errorf("infoField = %d, %v; want 1234", got, err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		if _, err := infoField(info, "total_net_input_bytes"); err == nil {
			t.Error("infoField of a missing field: no error")
		}
	})
}
