package simenv

import (
	"fmt"
	"strings"
)

// Reward schemes. A scheme maps one slate's outcome to a scalar reward.
const (
	// RewardClickPurchase pays 1 for a click and 4 more when the click ends in a purchase,
	// so a purchase step earns 5: buying is what the shop wants, clicks show interest.
	RewardClickPurchase = "click_purchase"
	// RewardClick pays 1 per click.
	RewardClick = "click"
	// RewardPurchase pays 1 per purchase.
	RewardPurchase = "purchase"
	// RewardRevenue pays the price of the purchased item, in the catalog's currency.
	RewardRevenue = "revenue"
)

// RewardNames lists the reward schemes; the first is the default.
var RewardNames = []string{RewardClickPurchase, RewardClick, RewardPurchase, RewardRevenue}

// CheckReward returns an error naming the valid schemes when name is not one of them.
func CheckReward(name string) error {
	for _, r := range RewardNames {
		if r == name {
			return nil
		}
	}
	return fmt.Errorf("simenv: unknown reward scheme %q; valid schemes: %s", name, strings.Join(RewardNames, ", "))
}

// reward returns the reward of one step under scheme. clicked and bought report what the
// shopper did, and price is the clicked item's price.
func reward(scheme string, clicked, bought bool, price float64) float64 {
	switch scheme {
	case RewardClick:
		if clicked {
			return 1
		}
	case RewardPurchase:
		if bought {
			return 1
		}
	case RewardRevenue:
		if bought {
			return price
		}
	default: // RewardClickPurchase
		switch {
		case bought:
			return 5
		case clicked:
			return 1
		}
	}
	return 0
}

// ExpectedClickReward returns the mean reward under scheme of a click on an item of the
// given price that ends in a purchase with probability pBuy.
func ExpectedClickReward(scheme string, pBuy, price float64) float64 {
	return expectedReward(scheme, pBuy, price)
}
