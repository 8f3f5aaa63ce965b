// expect: CWE-78
package tools

import "os/exec"

func Convert(file string) ([]byte, error) {
	return exec.Command("sh", "-c", "convert "+file+" out.png").Output()
}
