// expect: CWE-78
class Backup {
    void run(String dir) throws Exception {
        Runtime.getRuntime().exec("tar czf backup.tgz " + dir);
    }
}
