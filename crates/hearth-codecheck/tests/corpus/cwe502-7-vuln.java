// expect: CWE-502
import java.beans.XMLDecoder;
import java.io.*;
class Import {
    Object parse(InputStream in) { return new XMLDecoder(in).readObject(); }
}
