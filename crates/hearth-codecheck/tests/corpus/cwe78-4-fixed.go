// expect: none
package tools

import "os/exec"

func Convert(file string) ([]byte, error) {
	return exec.Command("convert", file, "out.png").Output()
}
