// expect: CWE-328
import org.apache.commons.codec.digest.DigestUtils;
class Tok {
    String id(String s) { return DigestUtils.md5Hex(s); }
}
