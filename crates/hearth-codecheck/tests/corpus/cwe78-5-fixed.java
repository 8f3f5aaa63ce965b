// expect: none
class Backup {
    void run(String dir) throws Exception {
        new ProcessBuilder("tar", "czf", "backup.tgz", dir).start();
    }
}
