# The golden image's Ansible step: the same role, run against the image being built. Smoke is left out
# (the build VM has no GPU); the box runs it on first boot or under the fleet play.
build {
  sources = ["source.qemu.ubuntu-2404"]

  provisioner "ansible" {
    playbook_file   = "ansible/packer/provision.yml"
    extra_arguments = ["--extra-vars", "rollout_src=bundles/golden rollout_smoke=false"]
    ansible_env_vars = ["ANSIBLE_COLLECTIONS_PATH=ansible/collections"]
  }
}
