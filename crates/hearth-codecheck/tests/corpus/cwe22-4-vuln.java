// expect: CWE-22
import java.io.*;
import javax.servlet.http.*;
class Files extends HttpServlet {
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        File f = new File("/var/data/", req.getParameter("name"));
        new FileInputStream(f).transferTo(resp.getOutputStream());
    }
}
