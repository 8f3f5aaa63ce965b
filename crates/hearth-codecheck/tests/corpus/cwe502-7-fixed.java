// expect: none
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.*;
class Import {
    Object parse(InputStream in) throws IOException { return new ObjectMapper().readValue(in, Settings.class); }
}
