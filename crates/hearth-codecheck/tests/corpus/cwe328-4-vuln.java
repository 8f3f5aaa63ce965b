// expect: CWE-328
import java.security.MessageDigest;
class Hasher {
    byte[] hash(byte[] in) throws Exception { return MessageDigest.getInstance("MD5").digest(in); }
}
