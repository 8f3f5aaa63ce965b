// expect: CWE-798
package cfg

const apiToken = "ghx_7d9a1b3c5e7f9a1b3c5e7f"

func Token() string { return apiToken }
