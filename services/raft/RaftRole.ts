/** A node's role. Voters start as `Follower`, learners stay `Learner`. */
export type RaftRole = "Leader" | "Follower" | "Candidate" | "Learner"
