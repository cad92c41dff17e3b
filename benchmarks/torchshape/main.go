// Command torchshape prints the flags that make the PyTorch reference
// (torch_dqn_update.py) time the same DQN update as BenchmarkDQNUpdate. They are the
// default Q-network's layer sizes on the generated catalog of 200 items, the training rows
// (batch × slate size), and the next-state rows that the online and the target network
// evaluate (2 × batch × candidates).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/simshop/simshop/rl"
	"github.com/simshop/simshop/simenv"
)

func main() {
	cat, err := simenv.Generate(200, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "torchshape:", err)
		os.Exit(1)
	}
	shop := simenv.Config{Persona: simenv.CheapBlue}.WithDefaults()
	d, err := rl.NewDQN(rl.DefaultDQNConfig(), cat, shop, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "torchshape:", err)
		os.Exit(1)
	}
	spec := d.Online.Spec
	hidden := make([]string, len(spec.Hidden))
	for i, h := range spec.Hidden {
		hidden[i] = fmt.Sprint(h)
	}
	cfg := d.Config
	fmt.Printf("--in %d --hidden %s --out %d --batch %d --target-rows %d\n",
		spec.Inputs, strings.Join(hidden, ","), spec.Outputs, cfg.BatchSize*shop.SlateSize, 2*cfg.BatchSize*cfg.Candidates)
}
