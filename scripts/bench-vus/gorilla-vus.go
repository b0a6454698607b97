// gorilla-vus: the VU workloads of scripts/bench vus done the Go way, one goroutine per VU,
// with github.com/gorilla/websocket (Debian's golang-github-gorilla-websocket-dev), as the
// bench peer in ../shared/bench does it.
//
//   gorilla-vus echo  URL VUS MSGS   each VU: connect, MSGS 32-byte echoes one at a time, close
//   gorilla-vus conns URL VUS ITERS  each VU: ITERS times connect, one 32-byte echo, close
//   gorilla-vus idle  URLS VUS SECS  each VU: connect and stay idle (VU i to URL i mod count of
//                                    the comma-separated URLS); after SECS, close all
//
// A close is the closing handshake as gorilla's own client example does it, and as netstack's
// clients do: send a close frame, wait (at most a second) for the server's, then close TCP.
// GORILLA_VUS_CLOSE=write-only sends the close frame and closes TCP at once, without waiting.
//
// Prints one line: RESULT mode=... vus=... n=... seconds=... per_s=...
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gorilla-vus: "+format+"\n", a...)
	os.Exit(1)
}

func echoOnce(c *websocket.Conn, payload []byte, buf *bytes.Buffer) {
	if err := c.WriteMessage(websocket.TextMessage, payload); err != nil {
		die("write: %v", err)
	}
	_, r, err := c.NextReader()
	if err != nil {
		die("read: %v", err)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil || buf.Len() != len(payload) {
		die("echo: %v (%d bytes)", err, buf.Len())
	}
}

var closeWriteOnly = os.Getenv("GORILLA_VUS_CLOSE") == "write-only"

func closeConn(c *websocket.Conn) {
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	if !closeWriteOnly {
		// The server's close frame ends the read with a *websocket.CloseError.
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			if _, _, err := c.NextReader(); err != nil {
				if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
					die("close: %v", err)
				}
				break
			}
		}
	}
	c.Close()
}

func main() {
	if len(os.Args) != 5 {
		die("usage: gorilla-vus echo|conns|idle URL VUS N")
	}
	mode, url := os.Args[1], os.Args[2]
	vus, _ := strconv.Atoi(os.Args[3])
	n, _ := strconv.Atoi(os.Args[4])
	payload := bytes.Repeat([]byte("x"), 32)
	start := time.Now()
	var wg sync.WaitGroup
	var hold sync.WaitGroup
	hold.Add(1)
	urls := strings.Split(url, ",")
	for v := 0; v < vus; v++ {
		wg.Add(1)
		target := urls[v%len(urls)]
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			switch mode {
			case "echo":
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					die("dial: %v", err)
				}
				for i := 0; i < n; i++ {
					echoOnce(c, payload, &buf)
				}
				closeConn(c)
			case "conns":
				for i := 0; i < n; i++ {
					c, _, err := websocket.DefaultDialer.Dial(url, nil)
					if err != nil {
						die("dial: %v", err)
					}
					echoOnce(c, payload, &buf)
					closeConn(c)
				}
			case "idle":
				c, _, err := websocket.DefaultDialer.Dial(target, nil)
				if err != nil {
					die("dial: %v", err)
				}
				hold.Wait()
				closeConn(c)
			default:
				die("unknown mode %s", mode)
			}
		}()
	}
	if mode == "idle" {
		time.Sleep(time.Duration(n) * time.Second)
		hold.Done()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	total := vus * n
	if mode == "idle" {
		total = vus
	}
	fmt.Printf("RESULT mode=%s vus=%d n=%d seconds=%.3f per_s=%.1f\n", mode, vus, total, secs, float64(total)/secs)
}
