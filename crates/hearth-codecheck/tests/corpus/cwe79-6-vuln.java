// expect: CWE-79
import javax.servlet.http.*;
class Search extends HttpServlet {
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws java.io.IOException {
        resp.getWriter().println("<p>No results for " + req.getParameter("q") + "</p>");
    }
}
