// expect: none
import javax.servlet.http.*;
import org.owasp.encoder.Encode;
class Search extends HttpServlet {
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws java.io.IOException {
        resp.getWriter().println("<p>No results for " + Encode.forHtml(req.getParameter("q")) + "</p>");
    }
}
