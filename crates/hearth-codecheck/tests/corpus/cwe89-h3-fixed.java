// expect: none
class Repo {
    java.util.List<?> find(javax.persistence.EntityManager em, String status) {
        return em.createQuery("SELECT o FROM Order o WHERE o.status = :s").setParameter("s", status).getResultList();
    }
}
