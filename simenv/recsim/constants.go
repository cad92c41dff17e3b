// Package recsim simulates the interest-evolution environment of RecSim (Ie et al., "RecSim:
// A Configurable Simulation Platform for Recommender Systems", 2019; google-research/recsim,
// recsim/environments/interest_evolution.py as wired by its create_environment), vectorized
// over sessions with one seeded random stream per session and role.
//
// Every constant and formula here is RecSim's; docs/recsim-iev.md lists each one next to the
// RecSim file and line that sets it.
package recsim

// Constants of RecSim's interest-evolution environment. Times are in minutes.
const (
	// Topics is the number of topic clusters, of document features and of user interests
	// (IEvVideo.NUM_FEATURES and IEvUserState.NUM_FEATURES).
	Topics = 20

	// Documents (UtilityModelVideoSampler).
	MinUtility   = -3.0 // quality mean of cluster 0
	MaxUtility   = 3.0  // quality mean of cluster Topics-1
	TrashyShare  = 0.7  // share of clusters whose mean runs from MinUtility up to 0
	VideoLength  = 4.0  // fixed length of every document
	QualityStdev = 0.1  // standard deviation of a document's quality around its cluster mean

	// Users (UtilityModelUserSampler).
	TimeBudget            = 200.0     // budget of a new user
	StepPenalty           = 0.5       // budget lost by a step without a click
	NoClickMass           = 1.0       // unnormalized score of the no-click option (IEvUserModel default)
	MinNormalizer         = -1.0      // subtracted from every score by the proportional model
	UserQualityFactor     = 0.0       // weight of the user's expected utility in the budget update
	DocumentQualityFactor = 1.0       // weight of the document's quality in the budget update
	UserUpdateAlpha       = 0.9 / 3.4 // budget restored per minute watched and unit of quality

	// Interest updates (IEvUserModel).
	AlphaXIntercept = 1.0 // |interest| at which the interest step size reaches 0
	AlphaYIntercept = 0.3 // interest step size at interest 0

	// Defaults of the scenario, the settings of RLlib's SlateQ examples.
	DefaultCandidates = 10
	DefaultSlate      = 2
)

// ClusterMeans returns the quality mean of each cluster: np.linspace(MinUtility, 0, 14)
// followed by np.linspace(0, MaxUtility, 6). Both runs contain 0, so clusters 13 and 14 share
// the mean 0, and the steps differ: 3/13 below 0 and 0.6 above.
func ClusterMeans() [Topics]float64 {
	var m [Topics]float64
	trashy := int(Topics * TrashyShare)           // 14
	nutritious := int(Topics * (1 - TrashyShare)) // 6
	linspace(m[:trashy], MinUtility, 0)
	linspace(m[trashy:trashy+nutritious], 0, MaxUtility)
	return m
}

// InterestStep returns the step size of an interest update for interest x:
// alpha(x) = -(AlphaYIntercept/AlphaXIntercept)·|x| + AlphaYIntercept.
func InterestStep(x float64) float64 {
	if x < 0 {
		x = -x
	}
	return -(AlphaYIntercept/AlphaXIntercept)*x + AlphaYIntercept
}

// linspace fills dst with len(dst) evenly spaced values from start to stop, computed as
// numpy.linspace does: start + i·step, with the last value set to stop.
func linspace(dst []float64, start, stop float64) {
	step := (stop - start) / float64(len(dst)-1)
	for i := range dst {
		dst[i] = float64(i)*step + start
	}
	dst[len(dst)-1] = stop
}
